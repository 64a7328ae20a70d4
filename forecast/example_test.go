package forecast_test

import (
	"fmt"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/forecast"
)

func ExamplePredict() {
	// A bin filling at 1.5 % per hour, read every hour, with one lost echo.
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	var rs []revloop.FillReading
	for i := 0; i < 24; i++ {
		lvl := 10 + 1.5*float64(i)
		if i == 9 {
			lvl = 0
		}
		rs = append(rs, revloop.FillReading{Bin: "bin-0007", Time: start.Add(time.Duration(i) * time.Hour), LevelPct: lvl})
	}
	fc, err := forecast.Predict(rs, forecast.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s at %.1f%%, %.2f %%/h, 80%% in %s (1 outlier: %v)\n",
		fc.Bin, fc.LevelPct, fc.RatePctPerH, fc.TimeToFull().Round(time.Minute), fc.Outliers == 1)
	// Output: bin-0007 at 44.5%, 1.50 %/h, 80% in 23h40m0s (1 outlier: true)
}
