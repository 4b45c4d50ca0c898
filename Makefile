# dlc: build the compiler and runtime, regenerate generated/, run the tests.
# `make demo` and `make test` install what they need on Debian when missing.

CC       ?= cc
CSTD      = -std=c99 -D_POSIX_C_SOURCE=200809L
WARN      = -Wall -Wextra -pedantic -Wno-missing-field-initializers
OPT      ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(EXTRA_CFLAGS)
B         = build

COMPILER_SRC = $(wildcard compiler/*.c compiler/ops/*.c compiler/passes/*.c compiler/codegen/*.c) grammar/parse.c
RUNTIME_SRC  = $(wildcard runtime/*.c)
GRAMMAR_GEN  = $(B)/lexer.c $(B)/parser.c

COMPILER_OBJ = $(COMPILER_SRC:%.c=$(B)/obj/%.o) $(B)/obj/lexer.o $(B)/obj/parser.o
RUNTIME_OBJ  = $(RUNTIME_SRC:%.c=$(B)/obj/%.o)
RUNTIME64_OBJ = $(RUNTIME_SRC:%.c=$(B)/obj64/%.o)

MODELS    = $(wildcard models/*.net)

.PHONY: all deps demo test test-asan diag-golden generated bench bench-accuracy clean asan \
        timeseries autoencode gan seqtasks

all: $(B)/dlc $(B)/libdlcrt.a $(B)/libdlcrt_f64.a

# ---- set-up on a fresh Debian machine ---------------------------------
deps:
	@sh tools/install-deps.sh

# ---- the grammar --------------------------------------------------------
$(B)/parser.c $(B)/parser.h: grammar/parser.y | $(B)
	bison -Wall -Werror --defines=$(B)/parser.h -o $(B)/parser.c $<

$(B)/lexer.c $(B)/lexer.h: grammar/lexer.l $(B)/parser.h | $(B)
	flex --header-file=$(B)/lexer.h -o $(B)/lexer.c $<

$(B)/obj/lexer.o: $(B)/lexer.c $(B)/parser.h grammar/parse.h $(wildcard compiler/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) $(EXTRA_CFLAGS) -Wall -Wno-unused-function -Wno-sign-compare -Igrammar -I$(B) -c $< -o $@

$(B)/obj/parser.o: $(B)/parser.c $(B)/parser.h grammar/parse.h $(wildcard compiler/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) $(EXTRA_CFLAGS) -Wall -Igrammar -I$(B) -c $< -o $@

$(B)/obj/grammar/parse.o: grammar/parse.c $(B)/parser.h $(B)/lexer.h grammar/parse.h $(wildcard compiler/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-unused-function -Igrammar -I$(B) -c $< -o $@

# ---- the compiler -------------------------------------------------------
$(B)/obj/compiler/%.o: compiler/%.c $(wildcard compiler/*.h compiler/*/*.h) runtime/dlc_runtime.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Igrammar -I$(B) -c $< -o $@

$(B)/obj/compiler/main.o: $(B)/parser.h

$(B)/dlc: $(COMPILER_OBJ) $(RUNTIME_OBJ)
	$(CC) $(OPT) $(EXTRA_CFLAGS) -o $@ $^ -lm

# ---- the runtime (float and double builds) ------------------------------
$(B)/obj/runtime/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -c $< -o $@

$(B)/obj64/runtime/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -DDLC_DOUBLE -c $< -o $@

$(B)/libdlcrt.a: $(RUNTIME_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/libdlcrt_f64.a: $(RUNTIME64_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B):
	mkdir -p $(B)

# ---- generated/ -----------------------------------------------------------
generated: $(B)/dlc
	@mkdir -p generated
	@for f in $(MODELS); do \
	    n=$$(basename $$f .net); \
	    ./$(B)/dlc $$f -o generated/$$n.c || exit 1; \
	done
	@echo "generated/ refreshed from $(words $(MODELS)) models"

# ---- tests ----------------------------------------------------------------
$(B)/test-runner: tests/runner.c | $(B)
	$(CC) $(CFLAGS_ALL) -o $@ $<

test: deps all $(B)/test-runner
	./$(B)/test-runner

# refresh the golden diagnostics after a deliberate change of a message (review the diff)
diag-golden: all
	sh tests/suites/diag.sh --update

# dlc itself built with AddressSanitizer and UBSan
asan:
	$(MAKE) B=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" build/asan/dlc

# the whole suite with the sanitized compiler doing every compilation
test-asan: deps all $(B)/test-runner asan
	DLC=build/asan/dlc UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./$(B)/test-runner

# The demo (examples/demo.sh): dlc compiles models/lenet5.net and the
# trainer trains it on Fashion-MNIST.  `make demo ARGS="--epochs 20"`.
# examples/infer.c runs $(DEMO_NET) (inference only) from $(DEMO)/.
DEMO     = $(B)/demo
DEMO_NET ?= models/lenet5.net

demo:
	@MAKE="$(MAKE)" sh examples/demo.sh $(ARGS)

# The trainer (examples/train.c) for models/<name>.net: `make build/train/mlp/train`.
# It reaches the model through <model>_info(); its default --epochs is the
# train section's `epochs` (10 when absent).
TRAIN_SRC = examples/train.c examples/plot.c examples/fashion_mnist.c
TRAIN_DEP = $(TRAIN_SRC) examples/plot.h examples/fashion_mnist.h examples/example_util.h runtime/dlc_runtime.h
net_model  = $(shell sed -n 's/^[[:space:]]*model[[:space:]][[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' $(1) | head -n 1)
net_epochs = $(or $(shell sed -n 's/^[[:space:]]*epochs[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' $(1) | head -n 1),10)

.PRECIOUS: $(B)/train/%/model.c
$(B)/train/%/model.c: models/%.net $(B)/dlc
	@mkdir -p $(dir $@)
	./$(B)/dlc $< -o $@

$(B)/train/%/train: $(B)/train/%/model.c $(TRAIN_DEP) $(B)/libdlcrt.a
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -DMODEL_INFO=$(call net_model,models/$*.net)_info \
	    -DTRAIN_EPOCHS=$(call net_epochs,models/$*.net) -o $@ $(TRAIN_SRC) $< $(B)/libdlcrt.a -lz -lm

# The text generator (examples/textgen.c) for a character-level language
# model, models/char_lstm.net or transformer_lm.net: `make build/textgen/char_lstm/textgen`.
# Its default corpus is /usr/share/games/fortunes/songs-poems (Debian's fortunes).
TEXTGEN_SRC = examples/textgen.c examples/plot.c
TEXTGEN_DEP = $(TEXTGEN_SRC) examples/plot.h examples/example_util.h runtime/dlc_runtime.h

.PRECIOUS: $(B)/textgen/%/model.c
$(B)/textgen/%/model.c: models/%.net $(B)/dlc
	@mkdir -p $(dir $@)
	./$(B)/dlc $< -o $@

$(B)/textgen/%/textgen: $(B)/textgen/%/model.c $(TEXTGEN_DEP) $(B)/libdlcrt.a
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -DMODEL_INFO=$(call net_model,models/$*.net)_info \
	    -DTRAIN_EPOCHS=$(call net_epochs,models/$*.net) -o $@ $(TEXTGEN_SRC) $< $(B)/libdlcrt.a -lm

# The sequence and autoencoder examples, each linking the models it trains
# (`make test` runs them only briefly, on small data: tests/suites/examples_seq.sh):
#   build/examples/timeseries  models/gru_classifier.net on scipy's ECG (python3-scipy)
#   build/examples/autoencode  models/autoencoder_dense.net, autoencoder.net and vae.net
#                              on Fashion-MNIST, writing PNG grids
#   build/examples/gan         models/dcgan.net and cgan.net on Fashion-MNIST, a PNG grid
#                              of generated images per epoch (tests/suites/examples_gan.sh)
EXAMPLE_DEP = examples/example_util.h runtime/dlc_runtime.h $(B)/libdlcrt.a
AE_MODELS   = autoencoder_dense autoencoder vae
GAN_MODELS  = dcgan cgan

$(B)/examples/timeseries: examples/timeseries.c examples/ecg.c examples/ecg.h \
                          $(B)/train/gru_classifier/model.c $(EXAMPLE_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -DMODEL_INFO=gru_classifier_info \
	    -DTRAIN_EPOCHS=$(call net_epochs,models/gru_classifier.net) -o $@ \
	    examples/timeseries.c examples/ecg.c $(B)/train/gru_classifier/model.c $(B)/libdlcrt.a -lz -lm

# build/examples/seqtasks: models/transformer_classifier.net, bilstm_tagger.net and
# seq2seq.net on Debian's fortunes (`--task classify|tagger|seq2seq`;
# tests/suites/seqtasks.sh runs it briefly on small text of its own).
SEQ_MODELS = transformer_classifier bilstm_tagger seq2seq

$(B)/examples/seqtasks: examples/seqtasks.c $(SEQ_MODELS:%=$(B)/train/%/model.c) $(EXAMPLE_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -o $@ examples/seqtasks.c \
	    $(SEQ_MODELS:%=$(B)/train/%/model.c) $(B)/libdlcrt.a -lm

seqtasks: all $(B)/examples/seqtasks
	@sh tools/install-deps.sh
	./$(B)/examples/seqtasks $(or $(ARGS),--task classify)

# Run them: `make timeseries`, `make autoencode`, `make gan` (ARGS="--epochs 2" passes
# options; ARGS="--model cgan" trains the conditional GAN).
# The ECG comes with Debian's python3-scipy, installed here when missing (as
# root); Fashion-MNIST with dataset-fashion-mnist (tools/install-deps.sh).
ECG_FILE = /usr/lib/python3/dist-packages/scipy/misc/ecg.dat

timeseries: all $(B)/examples/timeseries
	@[ -f $(ECG_FILE) ] || { echo "timeseries: installing python3-scipy for $(ECG_FILE)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-scipy; }
	./$(B)/examples/timeseries $(ARGS)

autoencode: all $(B)/examples/autoencode
	@sh tools/install-deps.sh
	@mkdir -p $(B)/examples/out
	./$(B)/examples/autoencode --out $(B)/examples/out $(ARGS)

$(B)/examples/autoencode: examples/autoencode.c examples/png.c examples/png.h examples/fashion_mnist.c \
                          examples/fashion_mnist.h $(AE_MODELS:%=$(B)/train/%/model.c) $(EXAMPLE_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -o $@ examples/autoencode.c examples/png.c \
	    examples/fashion_mnist.c $(AE_MODELS:%=$(B)/train/%/model.c) $(B)/libdlcrt.a -lz -lm

gan: all $(B)/examples/gan
	@sh tools/install-deps.sh
	@mkdir -p $(B)/examples/out
	./$(B)/examples/gan --out $(B)/examples/out $(ARGS)

$(B)/examples/gan: examples/gan.c examples/png.c examples/png.h examples/fashion_mnist.c \
                   examples/fashion_mnist.h $(GAN_MODELS:%=$(B)/train/%/model.c) $(EXAMPLE_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -o $@ examples/gan.c examples/png.c \
	    examples/fashion_mnist.c $(GAN_MODELS:%=$(B)/train/%/model.c) $(B)/libdlcrt.a -lz -lm

$(DEMO)/lenet5.c: $(DEMO_NET) $(B)/dlc
	@mkdir -p $(DEMO)
	./$(B)/dlc $(DEMO_NET) -o $@ --batch 64

$(DEMO)/infer: examples/infer.c examples/fashion_mnist.c examples/fashion_mnist.h \
               $(DEMO)/lenet5.c $(B)/libdlcrt.a
	$(CC) $(CFLAGS_ALL) -Werror -Iruntime -Iexamples -I$(DEMO) -o $@ \
	    examples/infer.c examples/fashion_mnist.c $(DEMO)/lenet5.c $(B)/libdlcrt.a -lz -lm

# Every benchmark (bench/run.sh, bench/README.md); targets, not tests.
bench: all
	@MAKE="$(MAKE)" sh bench/run.sh

# Fashion-MNIST accuracy of mlp, lenet5 and cnn_bn trained by generated code
# (bench/README.md); long: about 40 minutes on 2 cores.
bench-accuracy: all
	@MAKE="$(MAKE)" sh bench/accuracy.sh $(MODELS_ACC)

clean:
	rm -rf $(B) build
