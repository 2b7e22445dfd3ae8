#!/usr/bin/env python3
"""A scripted stand-in for a TUI coding agent (Claude Code, Codex, Gemini).

telemux's agent tests drive it through an agent profile exactly as they would
drive the real thing: it takes the alternate screen, draws a transcript above
an input box, shows a spinner with "esc to interrupt" while it "works", asks a
permission question that waits for a key, and — like Claude Code — runs the
hook commands of a `--settings FILE` on UserPromptSubmit, Notification and
Stop. It reads the keyboard in raw mode, so text typed by tmux arrives one
character at a time, as it would for a real agent.

Prompts it understands:
  anything        works ~1 s, then answers "You said: <prompt>" (two lines)
  ... ask ...     works briefly, asks "Do you want to proceed?"; 1 = yes, 2 = no
  work N          works N ms, then answers "Done working."
  exit            leaves the alternate screen and exits 0

With `--paste-window-ms N` it behaves like agents (Codex) that take an Enter
arriving within N ms of the previous typed character as a newline in the
input box (shown as ↵) instead of submitting the prompt.
"""

import json
import os
import select
import subprocess
import sys
import termios
import time
import tty

SPINNER = "✻✽✶✳"


class Agent:
    def __init__(self, settings, paste_window_ms=0):
        self.paste_window = paste_window_ms / 1000.0
        self.last_char_at = 0.0
        self.hooks = {}
        if settings:
            with open(settings) as f:
                for event, entries in json.load(f).get("hooks", {}).items():
                    self.hooks[event] = [
                        h["command"] for e in entries for h in e.get("hooks", [])
                    ]
        self.transcript = []
        self.input = ""
        self.status = None  # spinner text while working
        self.question = None
        self.tick = 0

    def hook(self, event):
        for cmd in self.hooks.get(event, []):
            subprocess.run(["sh", "-c", cmd], check=False)

    def draw(self):
        cols, rows = os.get_terminal_size(sys.stdout.fileno())
        width = max(20, min(cols, 80) - 2)
        bottom = []
        if self.status:
            bottom.append(f"{SPINNER[self.tick % len(SPINNER)]} {self.status} (esc to interrupt)")
        if self.question:
            bottom += [self.question, "❯ 1. Yes", "  2. No"]
        else:
            bottom += [
                "╭" + "─" * width + "╮",
                ("│ > " + self.input).ljust(width + 1) + "│",
                "╰" + "─" * width + "╯",
                "  ? for shortcuts",
            ]
        top = ["FakeAgent v1 (telemux test double)", ""]
        room = max(0, rows - len(top) - len(bottom) - 1)
        body = self.transcript[-room:] if room else []
        lines = top + body + [""] * (room - len(body)) + bottom
        sys.stdout.write("\x1b[H\x1b[2J" + "\r\n".join(lines[: rows - 1]))
        sys.stdout.flush()

    def work(self, ms, label="Working…"):
        self.status = label
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            self.draw()
            time.sleep(0.1)
            self.tick += 1
        self.status = None

    def answer(self, lines):
        self.transcript.append("⏺ " + lines[0])
        self.transcript += ["  " + l for l in lines[1:]]
        self.transcript.append("")
        self.draw()
        self.hook("Stop")

    def key(self):
        return os.read(sys.stdin.fileno(), 1).decode("utf-8", "replace")

    def ask(self):
        self.question = "Do you want to proceed?"
        self.draw()
        self.hook("Notification")
        while True:
            k = self.key()
            if k in "12":
                break
        self.question = None
        self.work(400)
        self.answer(["You said yes." if k == "1" else "You said no."])

    def submit(self, prompt):
        self.transcript.append("> " + prompt)
        self.draw()
        self.hook("UserPromptSubmit")
        words = prompt.split()
        if prompt.strip() == "exit":
            return False
        if "ask" in words:
            self.work(400)
            self.ask()
        elif words[:1] == ["work"] and len(words) == 2 and words[1].isdigit():
            self.work(int(words[1]))
            self.answer(["Done working."])
        else:
            self.work(1000)
            self.answer([f"You said: {prompt}", "Second line of the answer."])
        return True

    def run(self):
        time.sleep(0.3)  # "starting": nothing on screen yet
        self.draw()
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if not ready:
                continue
            k = self.key()
            if k in ("\r", "\n") and time.monotonic() - self.last_char_at < self.paste_window:
                self.input += "↵"
            elif k in ("\r", "\n"):
                prompt, self.input = self.input, ""
                if prompt and not self.submit(prompt):
                    return
            elif k in ("\x7f", "\b"):
                self.input = self.input[:-1]
            elif k == "\x03":
                return
            elif k.isprintable():
                self.input += k
                self.last_char_at = time.monotonic()
            self.draw()


def main():
    settings = None
    args = sys.argv[1:]
    if "--settings" in args:
        settings = args[args.index("--settings") + 1]
    paste_window_ms = 0
    if "--paste-window-ms" in args:
        paste_window_ms = int(args[args.index("--paste-window-ms") + 1])
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    sys.stdout.write("\x1b[?1049h")
    try:
        tty.setraw(fd)
        Agent(settings, paste_window_ms).run()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\x1b[?1049l")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
