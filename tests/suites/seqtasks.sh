#!/bin/sh
# examples/seqtasks.c quickly, on small text this script writes (Debian's
# fortunes are not needed): each task (classify, tagger, seq2seq) trains a
# few steps, prints its test metric and baseline, writes its CSV log and
# checkpoint, is deterministic, and its test loss falls below the untrained
# model's; bad options and bad text (missing, empty, too short, the wrong
# number of files) give a clear error and a non-zero exit.  PASS/FAIL lines
# for tests/runner.c; runs after `make all`.
cd "$(dirname "$0")/../.." || exit 1
T=build/test/seqtasks
rm -rf "$T" && mkdir -p "$T"
ST=build/examples/seqtasks

pass() { echo "PASS seqtasks-$1"; }
fail() { echo "FAIL seqtasks-$1: $2"; }
oneline() { tr '\n' ' ' <"$1" | cut -c 1-300; }

if ! make -s "$ST" >"$T/make.log" 2>&1; then
    fail build "make $ST: $(oneline "$T/make.log")"
    exit 1
fi

# text FILE SEED WORDS...: 400 lines of 6 to 12 words drawn from WORDS (with
# sentence ends and fortune separators), the same for the same SEED.
text() {
    file=$1 seed=$2
    shift 2
    echo "$@" | awk -v seed="$seed" '{
        srand(seed); n = split($0, w, " ")
        for (l = 0; l < 400; l++) {
            k = 6 + int(rand() * 7); s = ""
            for (i = 0; i < k; i++) {
                x = w[1 + int(rand() * n)]
                if (i == 0) x = toupper(substr(x, 1, 1)) substr(x, 2)
                s = s (i ? " " : "") x
            }
            print s (rand() < 0.5 ? "." : ",")
            if (l % 7 == 6) print "%"
        }
    }' >"$file"
}
text "$T/a.txt" 1 the cat sat on a mat and purred at its owner who fed it fish
text "$T/b.txt" 2 compile link run debug the kernel with a make file and tests
text "$T/c.txt" 3 sing me a song of love and rain under moonlight my dear heart
text "$T/d.txt" 4 atoms split into protons neutrons and energy in a reactor core
FOUR="$T/a.txt,$T/b.txt,$T/c.txt,$T/d.txt"
: >"$T/empty.txt"
printf 'Too short.\n' >"$T/short.txt"

# run NAME ARGS...: $T/NAME.out, $T/NAME.err and $RC
run() {
    name=$1
    shift
    "$ST" "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# expect NAME STATUS 'ERE' ARGS...: the exit status and, on stderr, a line
# matching the (case-insensitive) extended regular expression.
expect() {
    name=$1 status=$2 re=$3
    shift 3
    run "$name" "$@"
    if [ "$RC" -ne "$status" ]; then
        fail "$name" "exit status $RC, expected $status: $(oneline "$T/$name.err")"
    elif ! grep -Eqi -- "$re" "$T/$name.err"; then
        fail "$name" "no /$re/ in: $(oneline "$T/$name.err")"
    else
        pass "$name"
    fi
}

# The output without what changes from run to run or names a file.
steady() { sed -e 's/| [0-9.]* s$//' -e '/^done in/d' -e '/^log:/d' -e '/^checkpoint:/d' "$1"; }

# short NAME TASK 'ERE' ARGS...: a 2-epoch run; exit 0, its report
# matching ERE, a CSV of epochs 0..2, a checkpoint, the test loss of epoch 2
# below epoch 0's, and the same output again from a second run.
short() {
    sn=$1 task=$2 re=$3
    shift 3
    run "$sn" --task "$task" --epochs 2 --csv "$T/$sn.csv" --checkpoint "$T/$sn.ckpt" "$@"
    if [ "$RC" -ne 0 ]; then
        fail "$sn" "exit status $RC: $(oneline "$T/$sn.err")"
        return
    fi
    if ! grep -Eq -- "$re" "$T/$sn.out"; then
        fail "$sn" "no /$re/ in: $(oneline "$T/$sn.out")"
        return
    fi
    rows=$(awk -F, 'NR > 1 && $1 == NR - 2 && $3 != "" && $4 >= 0 && $4 <= 1' "$T/$sn.csv" | wc -l)
    if [ "$(head -n 1 "$T/$sn.csv" | cut -d, -f1-3)" != "epoch,train_loss,test_loss" ] || [ "$rows" -ne 3 ]; then
        fail "$sn" "bad CSV log: $(oneline "$T/$sn.csv")"
        return
    fi
    if ! [ -s "$T/$sn.ckpt" ]; then
        fail "$sn" "no checkpoint $T/$sn.ckpt"
        return
    fi
    if ! awk -F, 'NR == 2 { l0 = $3 } NR == 4 { exit !($3 < l0) }' "$T/$sn.csv"; then
        fail "$sn" "the test loss did not fall: $(oneline "$T/$sn.csv")"
        return
    fi
    run "$sn-again" --task "$task" --epochs 2 "$@"
    if [ "$RC" -ne 0 ] || [ "$(steady "$T/$sn.out")" != "$(steady "$T/$sn-again.out")" ]; then
        fail "$sn" "a second run with the same seed differs (exit $RC)"
        return
    fi
    pass "$sn"
}

# ---- the tasks -----------------------------------------------------------------
short classify classify "^baselines: chance 25.0%.*confusion|^ +computers|recall" --corpus "$FOUR"
short tagger tagger "context-free baseline" --corpus "$T/a.txt,$T/b.txt"
short seq2seq seq2seq "exact matches .* held-out words" --corpus "$T/a.txt,$T/b.txt,$T/c.txt,$T/d.txt" \
    --show 3 --test 0.25
short seq2seq-sort seq2seq "task: sort the letters" --corpus "$FOUR" --transduce sort --test 0.25 --show 0
run help --help
if [ "$RC" -eq 0 ] && grep -q "classify" "$T/help.out" && grep -q "seq2seq" "$T/help.out"; then pass help
else fail help "exit $RC: $(oneline "$T/help.out")"; fi

# ---- bad options and bad text ----------------------------------------------
expect no-task 2 "--task: missing" --epochs 1
expect bad-task 2 "--task: expects classify, tagger or seq2seq" --task translate
expect bad-epochs 2 "--epochs: expects a whole number" --task tagger --epochs -1
expect bad-test 2 "--test: expects a fraction" --task tagger --test 0
expect bad-transduce 2 "--transduce: expects reverse or sort" --task seq2seq --transduce shuffle
expect unknown-option 2 "--frobnicate: unknown option" --task tagger --frobnicate 1
expect no-value 2 "--corpus: needs a value" --task tagger --corpus
expect missing-file 1 "missing.txt: No such file" --task tagger --corpus "$T/missing.txt"
expect empty-file 1 "empty.txt: empty" --task seq2seq --corpus "$T/empty.txt"
expect short-file 1 "short.txt is too short" --task tagger --corpus "$T/short.txt"
expect classify-files 1 "one corpus file per class of the model, 4; --corpus names 2" \
    --task classify --corpus "$T/a.txt,$T/b.txt"
expect classify-short 1 "short.txt is too short" --task classify --corpus "$T/a.txt,$T/b.txt,$T/c.txt,$T/short.txt"
expect empty-name 1 "--corpus: an empty file name" --task tagger --corpus "$T/a.txt,"
expect few-words 1 "distinct words" --task seq2seq --corpus "$T/short.txt"
expect bad-csv 1 "nodir/log.csv: No such file" --task tagger --corpus "$T/a.txt" --epochs 0 \
    --csv "$T/nodir/log.csv"
