// Fuzz target: the CSV readers, chosen by the input's first byte: label lists ("file,label" and
// pseudo-labels with confidences, data::read_label_csv), metrics.csv (app::read_metrics_csv) and
// classes.txt (data::read_class_names). The rest of the input is the file.
#include <string>

#include "apps/metrics_log.h"
#include "framework/data/dataset.h"
#include "fuzz_input.h"

using namespace effnet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = fuzz::scratch_file("fuzz.csv", data + 1, size - 1);
  fuzz::expect_clear_error([&] {
    switch (data[0] % 3) {
      case 0:
        for (const data::LabelRow& r : data::read_label_csv(path))
          if (r.file.empty() || r.label < 0) fuzz::abort_with("label row accepted with no file or a negative label", r.file);
        break;
      case 1: app::read_metrics_csv(path); break;
      default: data::read_class_names(path); break;
    }
  });
  return 0;
}

// Seeds: each file as the project writes it, behind its selector byte.
void effnet_fuzz_write_seeds(const std::string& dir) {
  auto seed = [&](const std::string& name, char selector, const std::string& text) {
    fuzz::write_seed(dir + "/" + name, std::string(1, selector) + text);
  };
  seed("labels.csv", 0, "file,label\na.png,0\n\"b,c.png\",2\nsub/d.jpg,1\n");
  seed("pseudo.csv", 0, "file,label,confidence\na.png,3,0.97\nb.png,0,0.5\n");
  app::EpochMetrics m;
  m.stage = "finetune";
  m.epoch = 1;
  m.lr = 0.001;
  m.train_loss = 1.25;
  m.train_accuracy = 0.5;
  m.val_loss = 1.5;
  m.val_accuracy = 0.25;
  m.best = true;
  m.seconds = 3.5;
  m.images_per_second = 120;
  const std::string mdir = fuzz::scratch_dir("metrics");
  app::EpochMetrics m2 = m;
  m2.epoch = 2;
  m2.best = false;
  app::write_metrics(mdir, {m, m2});
  seed("metrics.csv", 1, fuzz::read_bytes(mdir + "/metrics.csv"));
  seed("classes.txt", 2, "cat\ndog\nsea lion\n");
}
