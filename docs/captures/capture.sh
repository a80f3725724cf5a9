#!/usr/bin/env bash
# The tmux 80x24 captures in this folder (tmux capture-pane -p: the screen as a user sees it), made in a
# fresh project on the embedded default model:
#   docs/captures/capture.sh [WORKDIR]      (SMISHCTL_DATA_MIRROR as for the tests; minutes of CPU)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="$(cd "$HERE/../.." && pwd)/.venv/bin"
WORK="${1:-$(mktemp -d)}"
PROJ="$WORK/demo"
SOCK="$WORK/tmux.sock"
N=0
mkdir -p "$WORK"
FRESH=1
if [[ -f "$PROJ/smishctl.toml" && -n "${REUSE:-}" ]]; then FRESH=; else rm -rf "$PROJ"; "$BIN/smishctl" init "$PROJ" >/dev/null; fi

tm() { tmux -S "$SOCK" "$@"; }
start() {  # a fresh 80x24 terminal in the project (a server of its own: a new one on a socket just
  tm kill-server 2>/dev/null || true  # killed can fail to start)
  N=$((N + 1)); SOCK="$WORK/tmux$N.sock"
  tm -f /dev/null new-session -d -x 80 -y 24 -s t -c "$PROJ" \
    "env -u CI PATH=$BIN:\$PATH SMISHCTL_DATA_MIRROR=${SMISHCTL_DATA_MIRROR:-} PS1='\$ ' bash --norc --noprofile"
  sleep 0.5
}
type_line() { tm send-keys -t t -l "$1"; tm send-keys -t t Enter; }
wait_for() {  # wait until the screen matches the regex $1 (at most $2 seconds)
  local end=$((SECONDS + ${2:-600}))
  until tm capture-pane -p -t t | grep -Eq -- "$1"; do
    if ((SECONDS > end)); then echo "timed out waiting for: $1" >&2; tm capture-pane -p -t t >&2; return 1; fi
    sleep 0.5
  done
}
save() { tm capture-pane -p -t t > "$HERE/$1.txt"; echo "wrote $HERE/$1.txt"; }

# Evidence for the other captures: 20 test items with the embedded model and with a TF-IDF SVM.
if [[ -n "$FRESH" ]]; then  # REUSE=1 keeps an earlier project of this WORKDIR and its runs
  (cd "$PROJ" && "$BIN/smishctl" evaluate --limit 20 --no-langfuse >/dev/null 2>&1 \
    && "$BIN/smishctl" evaluate -m classic/tfidf-svm --limit 20 --no-langfuse >/dev/null 2>&1)
fi

# classify: several messages, the prompt that answered, each text cut to the width.
start
type_line "smishctl classify 'Your parcel is held at the depot: pay the 1.99 GBP fee within 24 hours at http://parcel-fee.top/track' 'are we still on for dinner tonight? I can bring dessert if you like'; echo __done"
wait_for '^__done' 300
save classify

# compare A B --diff: the verdict first, the messages at the width left over.
start
type_line "smishctl compare latest~1 latest --diff"
wait_for '^:|\(END\)' 300  # the first page of the pager (less)
save compare-diff
tm send-keys -t t G  # its last page: the messages the two runs disagree on
sleep 1
save compare-diff-end
tm send-keys -t t q

# promote: the estimate and the question before an evaluation of the whole test split.
printf 'Label the SMS as ham, spam or smishing.\n' > "$PROJ/mine.txt"
(cd "$PROJ" && "$BIN/smishctl" prompts new --instructions mine.txt --name mine >/dev/null 2>&1 || true)
start
type_line "smishctl promote mine --reason 'hand-written'"
wait_for 'start this evaluation\?' 300
save promote-confirm
type_line "n"
sleep 2

# optimize: a few lines of its progress mid-run, then Ctrl-C.
start
type_line "smishctl optimize --no-langfuse"
wait_for 'ETA +[0-9]:[0-9]{2}:[0-9]{2}' 900
save optimize-baseline
wait_for '^. candidate [0-9]+/[0-9]+ .*ETA +[0-9]:[0-9]{2}:[0-9]{2}' 600 || true
save optimize-progress
tm send-keys -t t C-c
sleep 3
tm kill-server
