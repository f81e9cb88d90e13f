#!/usr/bin/env python3
"""Plugins side by side, whatever their language (scripts/bench runs this).

For each shipped plugin (the four in Rust, mask-pii in JavaScript,
business-hours in Python) it runs `switchboard plugin call`: once with an
empty compile cache (the compile time), then again from the cache with
--repeat (instantiation and the median time per call), and prints a
Markdown table: file size, compile, instantiate, per call, linear memory.

usage: plugin_bench.py SWITCHBOARD_BINARY [REPEAT]
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILT = ROOT / "target" / "plugins"
TOOLCHAINS = ROOT / "target" / "peers" / "plugin-toolchains"

CARD = {
    "type": "vertical",
    "elements": [
        {"type": "text", "text": "Plan"},
        {"type": "button", "title": "Choose", "click": {"actions": [{"type": "publishText", "text": "choose"}]}},
    ],
}

# (name, language, file, hook, input, settings)
PLUGINS = [
    ("greeting", "Rust", BUILT / "greeting.wasm", "conversation-start", {"greeting": "hi"}, []),
    ("step-up", "Rust", BUILT / "step_up.wasm", "step-up", {"text": "_STEPUP_"}, []),
    ("tile-display", "Rust", BUILT / "tile_display.wasm", "bot-message",
     {"messages": [{"structured": CARD}] * 3,
      "conversation": {"custom_fields": {"tileDisplay": "horizontal"}}}, []),
    ("accessibility", "Rust", BUILT / "accessibility.wasm", "bot-message",
     {"messages": [{"structured": CARD}], "conversation": {"accessibility": True}}, []),
    ("mask-pii", "JavaScript", None, "consumer-message",
     {"text": "my card is 4111 1111 1111 1111, mail jane@example.com"}, []),
    ("business-hours", "Python", None, "consumer-message", {"text": "hello"},
     ["open=09:00", "close=17:00", "days=mon-fri"]),
]


def call(binary, cache, file, hook, input_file, settings, repeat):
    args = [binary, "plugin", "call", str(file), hook, "--input", str(input_file), "--repeat", str(repeat)]
    for setting in settings:
        args += ["--settings", setting]
    env = dict(os.environ, SWITCHBOARD_CACHE=str(cache), RUST_LOG="error")
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"plugin call failed for {file}: {done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def build(binary, project, out):
    env = dict(os.environ, SWITCHBOARD_CACHE=str(TOOLCHAINS))
    # Built from a copy: building in place would change plugins/ under cargo's watch.
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / project.name
        subprocess.run(["cp", "-r", str(project), str(copy)], check=True)
        subprocess.run([binary, "plugin", "build", str(copy), "--out", str(out)], env=env, check=True,
                       stdout=subprocess.DEVNULL)


def main():
    binary = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        for name, language, file, hook, payload, settings in PLUGINS:
            if file is None:
                file = work / f"{name}.wasm"
                build(binary, ROOT / "plugins" / name, file)
            input_file = work / f"{name}.json"
            input_file.write_text(json.dumps(payload))
            cache = work / f"cache-{name}"
            first = call(binary, cache, file, hook, input_file, settings, 1)
            assert not first["from_cache"], first
            warm = call(binary, cache, file, hook, input_file, settings, repeat)
            assert warm["from_cache"], warm
            rows.append((name, language, file.stat().st_size, first["compile_ms"], warm["instantiate_ms"],
                         warm["median_micros"], warm["memory_bytes"], hook))
    print("| plugin | language | file KiB | compile ms | instantiate ms | µs per call (median) | linear memory KiB | hook |")
    print("|---|---|---|---|---|---|---|---|")
    for name, language, size, compile_ms, instantiate_ms, micros, memory, hook in rows:
        print(f"| {name} | {language} | {size / 1024:.0f} | {compile_ms:.0f} | {instantiate_ms:.2f} | {micros:.1f} | "
              f"{memory / 1024:.0f} | {hook} |")


if __name__ == "__main__":
    main()
