/*
Copyright 2026 The openai-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package image builds the operator's container image as the repository's Dockerfile
// describes it, on a machine with neither a container daemon nor a registry: it reads
// the Dockerfile, runs the builder stage's `go build` commands with the same flags, lays
// the final stage's files over a local stand-in for its distroless base, and writes a
// docker-archive tarball that `ctr images import` loads. Anything in the Dockerfile it
// cannot reproduce exactly is an error, so the image and the Dockerfile cannot drift
// apart silently. It is test tooling (test/cluster runs the operator from this image on a
// real kubelet); production images come from `make docker-build`.
package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines joined.
type Instruction struct {
	// Keyword is the instruction in upper case (FROM, RUN, COPY ...).
	Keyword string
	// Flags are the instruction's leading --name=value options (--from, --mount ...).
	Flags map[string][]string
	// Args is the rest of the line.
	Args string
	// Line is the 1-based line where the instruction starts.
	Line int
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	// Base is the FROM image (or stage name); Name the AS name, if any.
	Base, Name   string
	Instructions []Instruction
}

// Parse reads a Dockerfile into stages. It understands comments, parser directives,
// line continuations and instruction flags; it does not interpret the instructions.
func Parse(r io.Reader) ([]Stage, error) {
	var (
		stages  []Stage
		pending strings.Builder
		start   int
		lineNo  int
	)
	flush := func() error {
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			return nil
		}
		in, err := parseInstruction(text, start)
		if err != nil {
			return err
		}
		if in.Keyword == "FROM" {
			st, err := parseFrom(in)
			if err != nil {
				return err
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			if in.Keyword == "ARG" {
				return nil // global build arguments before the first FROM
			}
			return fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Keyword)
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments and parser directives (# syntax=...)
		}
		if pending.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = lineNo
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending.WriteString(strings.TrimSuffix(trimmed, `\`))
			pending.WriteString(" ")
			continue
		}
		pending.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("line %d: the last instruction ends with a line continuation", start)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return stages, nil
}

func parseInstruction(text string, line int) (Instruction, error) {
	keyword, rest, _ := strings.Cut(text, " ")
	in := Instruction{Keyword: strings.ToUpper(keyword), Flags: map[string][]string{}, Line: line}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		name, value, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return in, fmt.Errorf("line %d: flag %q has no value", line, flag)
		}
		in.Flags[name] = append(in.Flags[name], value)
		rest = strings.TrimSpace(after)
	}
	in.Args = rest
	return in, nil
}

func parseFrom(in Instruction) (Stage, error) {
	fields := strings.Fields(in.Args)
	switch {
	case len(fields) == 1:
		return Stage{Base: fields[0]}, nil
	case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
		return Stage{Base: fields[0], Name: fields[2]}, nil
	}
	return Stage{}, fmt.Errorf("line %d: cannot read FROM %q", in.Line, in.Args)
}

// GoBuild is one `go build` of the builder stage.
type GoBuild struct {
	// Env holds the command's NAME=value prefixes, variables expanded.
	Env []string
	// Args are the arguments after `go`, starting with "build", variables expanded.
	Args []string
	// Output is the -o path inside the builder stage.
	Output string
}

// Copy is one COPY --from=<builder> of the final stage.
type Copy struct {
	Src, Dst string
}

// Plan is what the Dockerfile asks for, in the terms this package can reproduce.
type Plan struct {
	// Builds are the builder stage's go build commands, run from the build context.
	Builds []GoBuild
	// BuilderBase is the builder stage's FROM image (golang:<version>).
	BuilderBase string
	// Base is the final stage's FROM image.
	Base string
	// WorkDir, User, Entrypoint, Cmd, Env and Labels are the final image's settings
	// (empty when the Dockerfile leaves the base's).
	WorkDir    string
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
	// Copies are the files taken from the builder stage, in order.
	Copies []Copy
}

// PlanFor turns the stages into a plan for a target architecture (e.g. "amd64"). The
// first stage must be a Go builder whose RUN steps are `go mod download` and `go build`
// commands; the last must start from a base this package can stand in for and use only
// WORKDIR, COPY --from=<builder>, USER, ENTRYPOINT, CMD, ENV and LABEL.
//
//nolint:gocyclo // one case per Dockerfile instruction the plan accepts
func PlanFor(stages []Stage, goarch string) (*Plan, error) {
	if len(stages) != 2 {
		return nil, fmt.Errorf("want a builder stage and a final stage, found %d stages", len(stages))
	}
	builder, final := stages[0], stages[1]
	args := map[string]string{
		"TARGETOS": imageOS, "TARGETARCH": goarch, "TARGETPLATFORM": imageOS + "/" + goarch,
		"BUILDOS": imageOS, "BUILDARCH": goarch, "BUILDPLATFORM": imageOS + "/" + goarch,
	}
	p := &Plan{BuilderBase: builder.Base, Base: final.Base, Labels: map[string]string{}}
	if !strings.HasPrefix(p.BuilderBase, "golang:") {
		return nil, fmt.Errorf("the builder stage starts from %q, not a golang image", p.BuilderBase)
	}
	// A base pinned by digest (name:tag@sha256:...) stands in as its name and tag.
	p.Base, _, _ = strings.Cut(p.Base, "@sha256:")
	p.BuilderBase, _, _ = strings.Cut(p.BuilderBase, "@sha256:")
	if _, ok := BaseImages[p.Base]; !ok {
		return nil, fmt.Errorf("no local stand-in for the base image %q (known: %s)", p.Base, knownBases())
	}
	for _, in := range builder.Instructions {
		switch in.Keyword {
		case "ARG":
			name, value, hasValue := strings.Cut(in.Args, "=")
			if _, predefined := args[name]; !predefined || hasValue {
				args[name] = value
			}
		case "WORKDIR", "COPY", "ENV":
			// The build runs from the build context (the repository root), with the
			// module cache of the machine; COPY of sources and go.mod is implied.
			if in.Keyword == "COPY" && len(in.Flags["from"]) > 0 {
				return nil, fmt.Errorf("line %d: COPY --from in the builder stage is not supported", in.Line)
			}
			if in.Keyword == "ENV" {
				return nil, fmt.Errorf("line %d: ENV in the builder stage is not supported", in.Line)
			}
		case "RUN":
			builds, err := parseRun(in, args)
			if err != nil {
				return nil, err
			}
			p.Builds = append(p.Builds, builds...)
		default:
			return nil, fmt.Errorf("line %d: %s in the builder stage is not supported", in.Line, in.Keyword)
		}
	}
	if len(p.Builds) == 0 {
		return nil, fmt.Errorf("the builder stage %q runs no go build", builder.Name)
	}
	for _, in := range final.Instructions {
		switch in.Keyword {
		case "ARG":
			// The final stage's build arguments (label values such as the version).
			name, value, _ := strings.Cut(in.Args, "=")
			args[name] = value
		case "WORKDIR":
			p.WorkDir = in.Args
		case "USER":
			p.User = in.Args
		case "ENTRYPOINT", "CMD":
			var list []string
			if err := json.Unmarshal([]byte(in.Args), &list); err != nil {
				return nil, fmt.Errorf("line %d: %s must use the JSON (exec) form: %w", in.Line, in.Keyword, err)
			}
			if in.Keyword == "ENTRYPOINT" {
				p.Entrypoint = list
			} else {
				p.Cmd = list
			}
		case "ENV":
			name, value, ok := strings.Cut(in.Args, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: ENV must use the NAME=value form", in.Line)
			}
			p.Env = append(p.Env, name+"="+strings.Trim(value, `"`))
		case "LABEL":
			name, value, ok := strings.Cut(in.Args, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: LABEL must use the name=value form", in.Line)
			}
			value, err := expand(strings.Trim(value, `"`), args)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
			p.Labels[strings.Trim(name, `"`)] = value
		case "COPY":
			from := in.Flags["from"]
			if len(from) != 1 || (from[0] != builder.Name && from[0] != "0") {
				return nil, fmt.Errorf("line %d: the final stage may only COPY --from=%s", in.Line, builder.Name)
			}
			fields := strings.Fields(in.Args)
			if len(fields) != 2 {
				return nil, fmt.Errorf("line %d: COPY must name one source and one destination", in.Line)
			}
			if !built(p.Builds, fields[0]) {
				return nil, fmt.Errorf("line %d: COPY of %s, which no go build of the builder stage writes", in.Line, fields[0])
			}
			p.Copies = append(p.Copies, Copy{Src: fields[0], Dst: fields[1]})
		default:
			return nil, fmt.Errorf("line %d: %s in the final stage is not supported", in.Line, in.Keyword)
		}
	}
	if len(p.Copies) == 0 {
		return nil, fmt.Errorf("the final stage copies no binary")
	}
	return p, nil
}

func built(builds []GoBuild, out string) bool {
	for _, b := range builds {
		if b.Output == out {
			return true
		}
	}
	return false
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// parseRun reads a RUN of the builder stage: `go mod download` (a no-op here: the
// machine's module cache serves the build) and `go build` commands joined by &&.
func parseRun(in Instruction, args map[string]string) ([]GoBuild, error) {
	for name, values := range in.Flags {
		if name != "mount" {
			return nil, fmt.Errorf("line %d: RUN --%s is not supported", in.Line, name)
		}
		for _, v := range values {
			if !strings.HasPrefix(v, "type=cache,") {
				return nil, fmt.Errorf("line %d: RUN --mount=%s is not supported (only cache mounts)", in.Line, v)
			}
		}
	}
	var out []GoBuild
	for _, command := range strings.Split(in.Args, "&&") {
		words, err := shellWords(command)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.Line, err)
		}
		var env []string
		for len(words) > 0 && envAssignment.MatchString(words[0]) {
			env = append(env, words[0])
			words = words[1:]
		}
		for i := range env {
			if env[i], err = expand(env[i], args); err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
		}
		for i := range words {
			if words[i], err = expand(words[i], args); err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
		}
		switch {
		case len(words) == 3 && words[0] == "go" && words[1] == "mod" && words[2] == "download":
			continue
		case len(words) >= 2 && words[0] == "go" && words[1] == "build":
			b := GoBuild{Env: env, Args: words[1:]}
			for i, w := range words {
				if w == "-o" && i+1 < len(words) {
					b.Output = words[i+1]
				}
			}
			if !path.IsAbs(b.Output) {
				return nil, fmt.Errorf("line %d: go build needs an absolute -o path, got %q", in.Line, b.Output)
			}
			out = append(out, b)
		default:
			return nil, fmt.Errorf("line %d: cannot reproduce the RUN step %q", in.Line, strings.TrimSpace(command))
		}
	}
	return out, nil
}

// shellWords splits a command as a POSIX shell does for the simple cases a Dockerfile
// RUN uses here: blanks separate words, single and double quotes group them.
func shellWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == ';' || r == '|' || r == '>' || r == '<' || r == '`':
			return nil, fmt.Errorf("shell syntax %q is not supported in %q", r, strings.TrimSpace(s))
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", strings.TrimSpace(s))
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

var variable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes ${NAME}, ${NAME:-default} and $NAME from the build arguments.
func expand(s string, args map[string]string) (string, error) {
	var missing []string
	out := variable.ReplaceAllStringFunc(s, func(m string) string {
		sub := variable.FindStringSubmatch(m)
		name := sub[1]
		if name == "" {
			name = sub[4]
		}
		if v, ok := args[name]; ok && v != "" {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		missing = append(missing, name)
		return ""
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("build argument %s has no value", strings.Join(missing, ", "))
	}
	return out, nil
}

// ReadFile parses the Dockerfile at path and plans its build for goarch.
func ReadFile(dockerfile, goarch string) (*Plan, error) {
	f, err := os.Open(dockerfile)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	stages, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfile, err)
	}
	p, err := PlanFor(stages, goarch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerfile, err)
	}
	return p, nil
}
