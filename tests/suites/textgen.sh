#!/bin/sh
# The text generator (examples/textgen.c) built against models/char_lstm.net,
# on small corpora the suite writes itself (no network, no Debian corpus):
# bad input gets a clear message and the documented exit status (1 for bad
# data, 2 for bad usage), and a short run learns (the validation loss
# falls), samples the same text twice from one seed, and resumes from its
# checkpoint to the same sample.  Prints PASS/FAIL lines for tests/runner.c.
cd "$(dirname "$0")/../.." || exit 1
DLC=${DLC:-build/dlc}
T=build/test/textgen
rm -rf "$T" && mkdir -p "$T"

pass() { echo "PASS textgen-$1"; }
fail() { echo "FAIL textgen-$1: $2"; }

# as the Makefile's build/textgen rule, at batch 8 for speed
if ! { $DLC models/char_lstm.net -o "$T/model.c" --batch 8 \
       && ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic \
              -Wno-missing-field-initializers -Werror -O2 -Iruntime -Iexamples \
              -DMODEL_INFO=char_lstm_info -o "$T/textgen" examples/textgen.c examples/plot.c \
              "$T/model.c" build/libdlcrt.a -lm; } >"$T/build.log" 2>&1; then
    fail build "$(grep -m 1 -i error "$T/build.log")"
    exit 0
fi
pass build

# ---- the corpora -----------------------------------------------------------
# a small verse, repeated: 2736 bytes of 30 distinct characters
i=0
while [ $i -lt 24 ]; do
    printf 'Twinkle, twinkle, little star,\nHow I wonder what you are!\nUp above the world so high,\nLike a diamond in the sky.\n\n'
    i=$((i + 1))
done >"$T/poem.txt"
tr 'a-z' 'A-Z' <"$T/poem.txt" >"$T/shout.txt"   # the same length, other characters
: >"$T/empty.txt"
printf 'too short\n' >"$T/short.txt"
head -c 300 "$T/poem.txt" >"$T/300.txt"
# 98 distinct bytes (tab, line feed, carriage return and the 95 printable
# ones), more than the 96 classes of char_lstm
LC_ALL=C awk 'BEGIN { for (r = 0; r < 4; r++) { printf "%c%c%c", 9, 10, 13;
                      for (c = 32; c < 127; c++) printf "%c", c } }' >"$T/wide.txt"

# expect NAME STATUS PATTERN ARGS...: textgen exits with STATUS and says PATTERN on stderr
expect() {
    name=$1 want=$2 pat=$3
    shift 3
    "$T/textgen" "$@" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    if [ $rc -ne "$want" ]; then
        fail "$name" "exit status $rc, expected $want: $(head -n 1 "$T/$name.err")"
    elif ! grep -q -- "$pat" "$T/$name.err"; then
        fail "$name" "stderr does not say '$pat': $(head -n 2 "$T/$name.err" | tr '\n' ' ')"
    else
        pass "$name"
    fi
}

# ---- bad data: exit 1 before any training --------------------------------
expect missing-corpus 1 "cannot open the corpus $T/nope.txt: No such file" --corpus "$T/nope.txt"
expect corpus-directory 1 "cannot read the corpus $T: Is a directory" --corpus "$T"
expect empty-corpus 1 "the corpus $T/empty.txt is empty" --corpus "$T/empty.txt"
expect short-corpus 1 "too short: 10 characters, and one training window is 65" \
    --corpus "$T/short.txt" --val 0
expect short-with-validation 1 "too short: 10 characters with the validation part held out" \
    --corpus "$T/short.txt" --val 0.5
expect short-validation 1 "the validation part, the last 30 characters (--val 0.1)" --corpus "$T/300.txt"
expect too-many-characters 1 "has 98 distinct characters (bytes), more than the 96 classes" \
    --corpus "$T/wide.txt" --val 0
expect prompt-character 1 "--prompt: the character 'q' does not occur in the corpus" \
    --corpus "$T/poem.txt" --prompt "Twinkle q"
expect prompt-byte 1 "--prompt: the byte 0x09 (character 3 of the prompt) does not occur" \
    --corpus "$T/poem.txt" --prompt "Tw	"

# ---- bad usage: exit 2 -----------------------------------------------------
expect unknown-option 2 "--bogus: unknown option" --bogus 1
expect missing-value 2 "--epochs: needs a value" --epochs
expect bad-epochs 2 "--epochs: expects a whole number from 0 to 100000" --epochs -1
expect bad-temperature 2 "--temperature: expects a number from 0 to 100" --temperature -0.5
expect bad-val 2 "--val: expects a number from 0 to 0.9" --val 1.5
expect empty-prompt 2 "--prompt: needs at least one character" --prompt ""
expect stray-argument 2 "poem.txt: unexpected argument" "$T/poem.txt"

# ---- a short run ---------------------------------------------------------------
run() {  # run NAME ARGS...: textgen on the poem, 80 characters of sample
    name=$1
    shift
    "$T/textgen" --corpus "$T/poem.txt" --seed 7 --length 80 --preview 0 "$@" >"$T/$name.out" 2>"$T/$name.err"
}
sample_of() { sed -n '/^-----/,/^-----/p' "$1"; }

if run first --epochs 3 --csv "$T/log.csv" --checkpoint "$T/ckpt.safetensors"; then
    # the validation loss after 3 epochs is below the untrained model's (epoch 0)
    if awk -F, 'NR == 2 { v0 = $3 } NR == 5 { v3 = $3 } END { exit !(NR == 5 && v3 < v0 - 0.5) }' "$T/log.csv"; then
        pass learns
    else
        fail learns "validation loss did not fall by 0.5: $(tr '\n' ' ' <"$T/log.csv")"
    fi
    if [ "$(sample_of "$T/first.out" | sed -n 2p | cut -c 1-4)" = "The " ] \
       && [ "$(sample_of "$T/first.out" | wc -l)" -ge 3 ]; then
        pass sample
    else
        fail sample "no sample after the prompt in $T/first.out"
    fi
    [ -f "$T/ckpt.safetensors" ] && head -n 1 "$T/ckpt.safetensors.vocab" | grep -q "dlc textgen vocabulary" \
        && pass checkpoint || fail checkpoint "no checkpoint or no vocabulary file beside it"
else
    fail run "exit status $?: $(head -n 2 "$T/first.err" | tr '\n' ' ')"
fi

if run second --epochs 3 && [ -n "$(sample_of "$T/first.out")" ] \
   && [ "$(sample_of "$T/first.out")" = "$(sample_of "$T/second.out")" ]; then
    pass deterministic
else
    fail deterministic "two runs with --seed 7 sample different text"
fi

if run resumed --epochs 3 --resume "$T/ckpt.safetensors" && grep -q "^resumed: .* at step [1-9][0-9]*: epoch 3 done" \
       "$T/resumed.out" && [ "$(sample_of "$T/first.out")" = "$(sample_of "$T/resumed.out")" ]; then
    pass resume-samples
else
    fail resume-samples "the resumed model samples other text: $(head -n 2 "$T/resumed.err" | tr '\n' ' ')"
fi

expect resume-other-vocabulary 1 "was trained on a vocabulary of 30 characters" \
    --corpus "$T/shout.txt" --resume "$T/ckpt.safetensors" --epochs 0 --prompt "THE "
