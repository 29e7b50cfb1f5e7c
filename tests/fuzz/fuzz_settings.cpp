// Fuzz target: the "key = value" readers, chosen by the input's first byte: a configuration file
// (app::parse_config_text, as `effnet pipeline --config` and checkpoints' stored settings read it)
// and the stage records of a run folder (OUT/<stage>/done.txt, app::read_record, one case per
// record type). The rest of the input is the text.
#include <string>

#include "apps/config_file.h"
#include "apps/results.h"
#include "apps/stage_record.h"
#include "fuzz_input.h"

using namespace effnet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int which = data[0] % 5;
  if (which == 0) {
    fuzz::expect_clear_error([&] { app::parse_config_text(text, "fuzz.conf"); });
    return 0;
  }
  const std::string dir = fuzz::scratch_dir("stage");
  fuzz::scratch_file("stage/done.txt", data + 1, size - 1);
  fuzz::expect_clear_error([&] {
    switch (which) {
      case 1: app::read_record<app::TrainingRecord>(dir); break;
      case 2: app::read_record<app::PredictRecord>(dir); break;
      case 3: app::read_record<app::PseudolabelRecord>(dir); break;
      default: app::read_record<app::FinetuneStageRecord>(dir); break;
    }
  });
  return 0;
}

// Seeds: a configuration file and one record of each type, as the project writes them.
void effnet_fuzz_write_seeds(const std::string& dir) {
  fuzz::write_seed(dir + "/pipeline.conf", std::string(1, 0) +
                   "# a run\nmodel = b0\nbatch = 8\nout = runs/a b=c\n\nfinetune-lr = 0.001  # comment\n");
  app::EpochMetrics m;
  m.stage = "finetune";
  m.epoch = 1;
  m.lr = 0.01;
  m.val_accuracy = 0.75;
  m.best = true;
  app::TrainingRecord t;
  t.best_val_accuracy = 0.75;
  t.best_epoch = 1;
  t.epochs = 1;
  t.train_images = 40;
  t.val_images = 8;
  t.best_checkpoint = "runs/a/finetune/best.h5";
  t.classes = {"cat", "dog, big", "a=b"};
  t.history = {m};
  app::PredictRecord p;
  p.images = 4;
  p.accuracy = 0.5;
  p.confusion = {{1, 1}, {1, 1}};
  p.classes = {"cat", "dog"};
  app::PseudolabelRecord q;
  q.considered = 10;
  q.kept = 3;
  q.per_class = {1, 2};
  q.correct_per_class = {1, 1};
  q.precision = 0.66;
  app::FinetuneStageRecord f{t, p};
  const std::string stage = fuzz::scratch_dir("seed-stage");
  auto seed = [&](const std::string& name, char selector) {
    fuzz::write_seed(dir + "/" + name, std::string(1, selector) + fuzz::read_bytes(app::record_path(stage)));
  };
  app::write_record(stage, t);
  seed("training.txt", 1);
  app::write_record(stage, p);
  seed("predict.txt", 2);
  app::write_record(stage, q);
  seed("pseudolabel.txt", 3);
  app::write_record(stage, f);
  seed("finetune.txt", 4);
}
