// Command web is the small program of the test environment's application
// image. `web serve` serves the files of a folder over HTTP, logging one line
// per request; `web get URL` prints a URL's body and fails on any error or
// non-2xx status (a Pod checking a Service by its DNS name); `web print
// TEXT...` prints its arguments and exits (a Pod or Job with a known log).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: web serve [--listen ADDR] [--root DIR] | web get URL | web print TEXT...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "get":
		os.Exit(get(os.Args[2:]))
	case "print":
		fmt.Println(strings.Join(os.Args[2:], " "))
	default:
		fmt.Fprintf(os.Stderr, "web: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(args []string) {
	flags := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := flags.String("listen", ":8080", "address to listen on")
	root := flags.String("root", "/srv", "folder to serve")
	_ = flags.Parse(args)
	logger := log.New(os.Stdout, "", log.LstdFlags|log.LUTC)
	files := http.FileServer(http.Dir(*root))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("%s %s %s", r.RemoteAddr, r.Method, r.URL.Path)
		files.ServeHTTP(w, r)
	}))
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	logger.Printf("serving %s on %s", *root, *listen)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		logger.Fatal(err)
	}
}

func get(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: web get URL")
		return 2
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = os.Stdout.Write(body)
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(os.Stderr, "%s: %s\n", args[0], resp.Status)
		return 1
	}
	return 0
}
