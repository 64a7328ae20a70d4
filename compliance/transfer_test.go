package compliance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

func TestShipmentNote(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	ctx := context.Background()
	n, err := s.IssueNote(ctx, NoteShipment, f.ship.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.TotalKg != 5500 || len(n.Items) != 2 || n.Receiver.Permit != "OVAM-2024-001" || n.Producer.Permit != "OVAM-YARD-77" || n.Carrier.Registration != "CBDU-12345" {
		t.Fatalf("note = %+v", n)
	}
	if n.Items[1].Containment != "bale bale-1" || n.Items[1].RDCode != "R3" {
		t.Fatalf("items = %+v", n.Items)
	}
	again, err := s.IssueNote(ctx, NoteShipment, f.ship.ID)
	if err != nil || again.Hash != n.Hash || !again.Issued.Equal(n.Issued) {
		t.Fatalf("re-issue changed the note: %v %+v", err, again)
	}
	body, _ := json.MarshalIndent(n, "", "  ")
	golden(t, "note-shipment.json", append(body, '\n'))
}

func TestLoadNotesForPeriod(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	var done []int
	notes, err := s.Notes(context.Background(), Period{From: t0, To: t0.Add(48 * time.Hour)}, func(d, total int) { done = append(done, d*10+total) })
	if err != nil {
		t.Fatal(err)
	}
	// Three received loads and one shipment, in time order.
	if len(notes) != 4 || notes[0].Kind != NoteLoad || notes[3].Kind != NoteShipment || len(done) != 4 || done[3] != 44 {
		t.Fatalf("notes %d, progress %v", len(notes), done)
	}
	if notes[0].Producer.Name != "cust-a" || notes[0].Vehicle != "truck-1" || notes[0].TotalKg != 4000 || notes[0].Items[0].RDCode != "R13" {
		t.Fatalf("first load note = %+v", notes[0])
	}
	r := NotesReport(notes, Period{From: t0, To: t0.Add(48 * time.Hour)}, t0.Add(72*time.Hour), false)
	var csv bytes.Buffer
	if err := r.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	golden(t, "notes.csv", csv.Bytes())
	var pdf bytes.Buffer
	if err := NotesReport(notes, Period{From: t0, To: t0.Add(48 * time.Hour)}, t0.Add(72*time.Hour), true).WritePDF(&pdf); err != nil {
		t.Fatal(err)
	}
	if n := pdfPages(t, pdf.Bytes()); n < 1 || n > 3 {
		t.Fatalf("notes PDF has %d pages", n)
	}
}

func TestNoteRetentionAndBadInput(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	ctx := context.Background()
	n, err := s.IssueNote(ctx, NoteShipment, f.ship.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DeleteNote(ctx, n.ID)
	var ex interface{ Extras() map[string]any }
	if !errors.Is(err, ErrRetained) || !errors.Is(err, revloop.ErrConflict) || !errors.As(err, &ex) || ex.Extras()["retain_until"] == nil {
		t.Fatalf("delete within retention: %v", err)
	}
	if _, err := s.storedNote(ctx, NoteShipment, f.ship.ID); err != nil {
		t.Fatalf("note gone after refused delete: %v", err)
	}
	later := f.svc()
	later.opts.Now = func() time.Time { return n.RetainUntil.Add(time.Second) }
	if err := later.DeleteNote(ctx, n.ID); err != nil {
		t.Fatalf("delete after retention: %v", err)
	}
	if err := later.DeleteNote(ctx, n.ID); !errors.Is(err, revloop.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	for _, c := range []struct{ kind, ref string }{{"invoice", "x"}, {NoteShipment, "SH-99999999"}, {NoteLoad, "TR-00000004"}} {
		if _, err := s.IssueNote(ctx, c.kind, c.ref); err == nil || errors.Is(err, ErrRetained) {
			t.Errorf("IssueNote(%s, %s) err = %v", c.kind, c.ref, err)
		}
	}
}
