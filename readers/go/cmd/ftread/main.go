// ftread read ADDR PREFIX MIN_REMAINING_S KEY...  -> one JSON line: {key: {reason, status, authorization?}}
// ftread bench ADDR PREFIX KEYS READS             -> one JSON line: raw GET vs reader, µs per read
package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	reader "freshtoken.dev/reader"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: ftread read|bench ADDR PREFIX N ...")
		os.Exit(2)
	}
	c, err := reader.Dial(os.Args[2], 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ftread:", err)
		os.Exit(1)
	}
	defer c.Close()
	c.Prefix = os.Args[3]
	n, _ := strconv.Atoi(os.Args[4])
	switch os.Args[1] {
	case "read":
		out := map[string]reader.Reading{}
		for _, key := range os.Args[5:] {
			r, err := c.Read(key, time.Duration(n)*time.Second)
			if err != nil {
				fmt.Fprintln(os.Stderr, "ftread:", err)
				os.Exit(1)
			}
			out[key] = r
		}
		json.NewEncoder(os.Stdout).Encode(out)
	case "bench":
		reads, _ := strconv.Atoi(os.Args[5])
		rng := rand.New(rand.NewSource(7))
		keys := make([]string, reads)
		for i := range keys {
			keys[i] = fmt.Sprintf("bench:acct-%d", rng.Intn(n))
		}
		raw := func(k string) {
			if v, err := c.Get(c.Prefix + k); err != nil || v == nil {
				panic(fmt.Sprintf("raw GET %s: %v (value %v)", k, err, v != nil))
			}
		}
		judged := func(k string) {
			if r, _ := c.Read(k, 5*time.Second); r.Reason != "ok" {
				panic(r.Reason)
			}
		}
		samples := map[string][]float64{}
		for _, k := range keys[:2000] {
			raw(k)
			judged(k)
		}
		// raw and reader alternate read by read (the first of each pair swaps every round): a read here takes
		// either ~10 or ~50 µs, as Go's poller finds the reply already there or parks the goroutine until it comes,
		// and which of the two dominates drifts over a run; alternating gives both variants the same mix
		timed := func(name string, fn func(string), k string) {
			t0 := time.Now()
			fn(k)
			samples[name] = append(samples[name], float64(time.Since(t0).Nanoseconds())/1000)
		}
		rounds, chunk := 5, reads/5
		for r := 0; r < rounds; r++ {
			for _, k := range keys[r*chunk : (r+1)*chunk] {
				if r%2 == 0 {
					timed("raw", raw, k)
					timed("reader", judged, k)
				} else {
					timed("reader", judged, k)
					timed("raw", raw, k)
				}
			}
		}
		stats := func(a []float64) map[string]float64 {
			sort.Float64s(a)
			sum := 0.0
			for _, x := range a {
				sum += x
			}
			return map[string]float64{"p50": a[len(a)/2], "mean": sum / float64(len(a)), "n": float64(len(a))}
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"go": runtime.Version(), "raw": stats(samples["raw"]),
			"reader": stats(samples["reader"])})
	}
}
