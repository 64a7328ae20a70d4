package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // site time zones on hosts without a zone database

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// DefaultTimezone is the time zone of sites and days unless configured.
const DefaultTimezone = "Europe/Brussels"

// Interval is one opening period of a day, local time "HH:MM" (Close may
// be "24:00").
type Interval struct {
	Open  string `json:"open"`
	Close string `json:"close"`
}

// weekdays are the keys of SiteHours.Weekly, index time.Weekday.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// SiteHours are a site's opening hours: vehicles inside its fence outside
// them raise an outside_hours alert. A weekday without intervals is
// closed all day.
type SiteHours struct {
	SiteID   string                `json:"site_id"`
	Timezone string                `json:"timezone"` // IANA name; default Europe/Brussels
	Weekly   map[string][]Interval `json:"weekly"`   // keys mon, tue, ... sun
	Updated  time.Time             `json:"updated"`

	loc     *time.Location
	minutes [7][][2]int // parsed intervals in minutes of the day
}

func parseHHMM(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	for _, c := range []byte{s[0], s[1], s[3], s[4]} {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// Validate checks the hours and prepares them for Open.
func (h *SiteHours) Validate() error {
	if h.Timezone == "" {
		h.Timezone = DefaultTimezone
	}
	loc, err := time.LoadLocation(h.Timezone)
	if err != nil || len(h.Timezone) > 64 {
		return revloop.Invalid("timezone", "unknown time zone %q", h.Timezone)
	}
	h.loc = loc
	h.minutes = [7][][2]int{}
	for day, ivs := range h.Weekly {
		wd := slices.Index(weekdays, day)
		if wd < 0 {
			return revloop.Invalid("weekly", "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", day)
		}
		if len(ivs) > 8 {
			return revloop.Invalid("weekly."+day, "at most 8 intervals")
		}
		for _, iv := range ivs {
			o, ok1 := parseHHMM(iv.Open)
			c, ok2 := parseHHMM(iv.Close)
			if !ok1 || !ok2 || o >= c || o == 24*60 {
				return revloop.Invalid("weekly."+day, "want intervals of HH:MM with open before close, got %q-%q", iv.Open, iv.Close)
			}
			h.minutes[wd] = append(h.minutes[wd], [2]int{o, c})
		}
	}
	return nil
}

// Open reports whether the site is open at t.
func (h *SiteHours) Open(t time.Time) bool {
	if h.loc == nil {
		return true
	}
	lt := t.In(h.loc)
	m := lt.Hour()*60 + lt.Minute()
	for _, iv := range h.minutes[lt.Weekday()] {
		if m >= iv[0] && m < iv[1] {
			return true
		}
	}
	return false
}

// hoursStore keeps site hours in fleet_site_hours.
type hoursStore struct {
	db *store.DB
}

func (s *hoursStore) get(ctx context.Context, q store.Querier, siteID string) (*SiteHours, error) {
	m, err := s.getMany(ctx, q, []string{siteID})
	if err != nil {
		return nil, err
	}
	h := m[siteID]
	if h == nil {
		return nil, fmt.Errorf("hours of site %s: %w", siteID, store.ErrNotFound)
	}
	return h, nil
}

// getMany returns the hours of those of the sites that have hours, by site
// id, in one query.
func (s *hoursStore) getMany(ctx context.Context, q store.Querier, siteIDs []string) (map[string]*SiteHours, error) {
	out := map[string]*SiteHours{}
	if len(siteIDs) == 0 {
		return out, nil
	}
	w := store.Where{Q: `SELECT site_id, timezone, hours, updated_ms FROM fleet_site_hours WHERE 1 = 1`}
	w.In("site_id", siteIDs)
	rows, err := q.Query(ctx, w.Q, w.Args...)
	if err != nil {
		return nil, fmt.Errorf("hours of sites: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, tz, body string
		var up int64
		if err := rows.Scan(&id, &tz, &body, &up); err != nil {
			return nil, fmt.Errorf("hours of sites: %w", err)
		}
		h, err := parseHours(id, tz, body, up)
		if err != nil {
			return nil, err
		}
		out[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hours of sites: %w", err)
	}
	return out, nil
}

// parseHours builds a site's hours from their stored columns.
func parseHours(siteID, tz, body string, up int64) (*SiteHours, error) {
	h := &SiteHours{SiteID: siteID, Timezone: tz, Updated: store.FromMillis(up)}
	if err := json.Unmarshal([]byte(body), &h.Weekly); err != nil {
		return nil, fmt.Errorf("hours of site %s: %w", siteID, err)
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("hours of site %s: stored: %w", siteID, err)
	}
	return h, nil
}

func (s *hoursStore) put(ctx context.Context, h *SiteHours, now time.Time) error {
	if h.Weekly == nil {
		h.Weekly = map[string][]Interval{}
	}
	body, err := json.Marshal(h.Weekly)
	if err != nil {
		return fmt.Errorf("put hours: %w", err)
	}
	h.Updated = now.UTC().Truncate(time.Millisecond)
	_, err = s.db.Exec(ctx, `INSERT INTO fleet_site_hours (site_id, timezone, hours, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (site_id) DO UPDATE SET timezone = excluded.timezone, hours = excluded.hours, updated_ms = excluded.updated_ms`,
		h.SiteID, h.Timezone, string(body), store.Millis(h.Updated))
	if err != nil {
		return fmt.Errorf("put hours of site %s: %w", h.SiteID, err)
	}
	return nil
}
