package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/revloop/revloop/geo/vrp"
)

func main() {
	lim, _ := time.ParseDuration(os.Args[1])
	iters := 0
	if strings.HasPrefix(os.Args[1], "i") {
		iters, _ = strconv.Atoi(os.Args[1][1:])
	}
	th, _ := strconv.Atoi(os.Args[2])
	if f := os.Getenv("PROF"); f != "" {
		pf, _ := os.Create(f)
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	for _, path := range os.Args[3:] {
		p, err := vrp.LoadInstance(path)
		if err != nil {
			panic(err)
		}
		var last vrp.Progress
		t := time.Now()
		var ru0 syscall.Rusage
		syscall.Getrusage(0, &ru0)
		s, err := vrp.Solve(context.Background(), p, vrp.Options{TimeLimit: lim, Iterations: iters, Threads: th, Seed: 1, Progress: func(p vrp.Progress) { last = p }})
		if err != nil {
			panic(err)
		}
		var ru1 syscall.Rusage
		syscall.Getrusage(0, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano())
		rep, err := vrp.Check(p, s, vrp.CheckOptions{RequireAll: true})
		fmt.Printf("%s cost=%.2f check=%.2f routes=%d unserved=%d err=%v t=%v it=%d cpu=%v\n", p.Name, s.Cost, rep.Cost, rep.Routes, len(s.Unserved), err, time.Since(t).Round(time.Millisecond), last.Iteration, cpu.Round(time.Millisecond))
	}
}
