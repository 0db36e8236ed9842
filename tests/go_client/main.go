// A pull-queue worker in Go, decoding answers exactly as Google's generated Go client does.
//
// The structs carry the generated client's JSON tags (taskqueue/v1beta2 taskqueue-gen.go): int64
// fields tagged ",string" make encoding/json refuse a bare JSON number there. Like the Go
// pull-queue worker packages in the field, it parses a leased task's long-form queueName to build
// the delete call. Standard library only. Usage: go run main.go BASE_URL PROJECT QUEUE
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

type Task struct {
	EnqueueTimestamp int64  `json:"enqueueTimestamp,omitempty,string"`
	Id               string `json:"id,omitempty"`
	Kind             string `json:"kind,omitempty"`
	LeaseTimestamp   int64  `json:"leaseTimestamp,omitempty,string"`
	PayloadBase64    string `json:"payloadBase64,omitempty"`
	QueueName        string `json:"queueName,omitempty"`
	RetryCount       int64  `json:"retry_count,omitempty"`
	Tag              string `json:"tag,omitempty"`
}

type Tasks struct {
	Items []*Task `json:"items,omitempty"`
	Kind  string  `json:"kind,omitempty"`
}

type TaskQueueStats struct {
	LeasedLastHour   int64 `json:"leasedLastHour,omitempty,string"`
	LeasedLastMinute int64 `json:"leasedLastMinute,omitempty,string"`
	OldestTask       int64 `json:"oldestTask,omitempty,string"`
	TotalTasks       int64 `json:"totalTasks,omitempty"`
}

type TaskQueue struct {
	Id        string          `json:"id,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	MaxLeases int64           `json:"maxLeases,omitempty"`
	Stats     *TaskQueueStats `json:"stats,omitempty"`
}

var base string

// decoded shows what the client read, as plain numbers, for the test to check.
func decoded(t *Task) map[string]interface{} {
	return map[string]interface{}{"id": t.Id, "queueName": t.QueueName, "retryCount": t.RetryCount,
		"enqueueTimestamp": t.EnqueueTimestamp, "leaseTimestamp": t.LeaseTimestamp}
}

func call(method, path string, body interface{}, out interface{}) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			fail("encode %s %s: %v", method, path, err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, reader)
	if err != nil {
		fail("request %s %s: %v", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		fail("%s %s: HTTP %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			fail("decode %s %s: %v (body %s)", method, path, err, data)
		}
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	base = strings.TrimRight(os.Args[1], "/") + "/taskqueue/v1beta2/projects/"
	project, queue := os.Args[2], os.Args[3]
	q := url.PathEscape(project) + "/taskqueues/" + url.PathEscape(queue)
	report := map[string]interface{}{}

	var inserted Task
	call("POST", q+"/tasks", &Task{QueueName: queue, PayloadBase64: "aGVsbG8gZ28=", Tag: "go"}, &inserted)
	report["inserted"] = decoded(&inserted)

	var leased Tasks
	call("POST", q+"/tasks/lease?numTasks=10&leaseSecs=60&groupByTag=true&tag=go", nil, &leased)
	items := []interface{}{}
	for _, task := range leased.Items {
		items = append(items, decoded(task))
	}
	report["leased"] = items

	var stats TaskQueue
	call("GET", q+"?getStats=true", nil, &stats)
	if stats.Stats == nil {
		fail("taskqueues.get with getStats answered no stats")
	}
	report["queue"] = map[string]interface{}{"id": stats.Id, "totalTasks": stats.Stats.TotalTasks,
		"oldestTask": stats.Stats.OldestTask, "leasedLastMinute": stats.Stats.LeasedLastMinute,
		"leasedLastHour": stats.Stats.LeasedLastHour}

	var listed Tasks
	call("GET", q+"/tasks", nil, &listed)
	report["listed"] = len(listed.Items)

	for _, task := range leased.Items {
		var renewed Task
		call("POST", q+"/tasks/"+task.Id+"?newLeaseSeconds=120", task, &renewed)
		report["renewed"] = decoded(&renewed)
		// projects/<project>/taskqueues/<queue>: the worker deletes where the task says it lives.
		parts := strings.Split(task.QueueName, "/")
		if len(parts) != 4 || parts[0] != "projects" || parts[2] != "taskqueues" {
			fail("leased task has queueName %q, not projects/<p>/taskqueues/<q>", task.QueueName)
		}
		call("DELETE", url.PathEscape(parts[1])+"/taskqueues/"+url.PathEscape(parts[3])+"/tasks/"+task.Id, nil, nil)
	}

	var empty Tasks
	call("POST", q+"/tasks/lease?numTasks=10&leaseSecs=60", nil, &empty)
	report["emptyLeaseItems"] = len(empty.Items)

	out, _ := json.Marshal(report)
	fmt.Println(string(out))
}
