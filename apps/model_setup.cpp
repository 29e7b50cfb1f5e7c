// Shared set-up and checks of the apps (see model_setup.h).
#include "apps/model_setup.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "framework/core/context.h"
#include "framework/core/parse_number.h"
#include "framework/data/numpy_random.h"
#include "weights/checkpoint.h"

namespace effnet::app {
namespace fs = std::filesystem;

Device choose_device(const std::string& name) {
  if (name == "auto") return cuda::available() ? Device::cuda() : Device::cpu();
  Device d = Device::parse(name);
  EFFNET_CHECK(!d.is_cuda() || cuda::available(), "--device ", name,
               ": no usable GPU (this build has no CUDA backend, or no GPU is visible); use --device cpu");
  return d;
}

int loader_workers(Device device, int64_t requested) {
  EFFNET_CHECK(requested >= 0, "--workers must be >= 0 (0: the device's default), got ", requested);
  if (requested > 0) return int(requested);
  return device.is_cuda() ? 4 : 1;
}

void require_file(const std::string& path, const std::string& what) {
  EFFNET_CHECK(!path.empty(), what, ": no file given");
  std::error_code ec;
  EFFNET_CHECK(fs::is_regular_file(path, ec), what, " ", path, fs::exists(path, ec) ? " is not a file" : " does not exist");
}

void require_dir(const std::string& path, const std::string& what) {
  EFFNET_CHECK(!path.empty(), what, ": no folder given");
  std::error_code ec;
  EFFNET_CHECK(fs::is_directory(path, ec), what, " ", path,
               fs::exists(path, ec) ? " is not a folder" : " does not exist");
}

DataLayout data_layout(const std::string& root) {
  require_dir(root, "data folder");
  const fs::path r(root);
  auto optional = [&](const char* name) {
    std::error_code ec;
    return fs::exists(r / name, ec) ? (r / name).string() : std::string();
  };
  DataLayout d;
  d.labeled = (r / "labeled").string();
  require_dir(d.labeled, "labeled image folder (DATA/labeled/<class>/...)");
  d.order_csv = optional("labeled_order.csv");
  d.classes_file = optional("classes.txt");
  d.unlabeled = optional("unlabeled");
  d.unlabeled_labels = optional("unlabeled_labels.csv");
  d.test = optional("test");
  d.test_labels = optional("test_labels.csv");
  return d;
}

namespace {
data::LoadOptions load_options(bool skip_bad_images) {
  data::LoadOptions lo;
  lo.skip_bad_images = skip_bad_images;
  lo.threads = 0;  // decode on every core
  return lo;
}
data::Dataset report_skipped(data::Dataset ds) {
  for (const data::SkippedFile& s : ds.skipped) std::printf("skipped %s: %s\n", s.path.c_str(), s.reason.c_str());
  return ds;
}
}  // namespace

data::Dataset load_labeled(const LabeledSource& src) {
  require_dir(src.dir, "labeled image folder");
  if (!src.order_csv.empty()) require_file(src.order_csv, "split order file");
  data::LoadOptions lo = load_options(src.skip_bad_images);
  if (!src.classes_file.empty()) {
    require_file(src.classes_file, "class list");
    lo.classes = data::read_class_names(src.classes_file);
  }
  return report_skipped(data::load_labeled_tree(src.dir, lo));
}

data::Dataset load_unlabeled(const std::string& dir, bool skip_bad_images) {
  return report_skipped(data::load_unlabeled_folder(dir, load_options(skip_bad_images)));
}

data::Dataset load_test(const std::string& dir, const std::string& labels_csv, bool skip_bad_images) {
  return report_skipped(data::load_test_folder(dir, labels_csv, load_options(skip_bad_images)));
}

std::vector<int64_t> labeled_order(const data::Dataset& ds, const std::string& order_csv, uint32_t seed) {
  if (order_csv.empty()) return data::NumpyRandomState(seed).permutation(ds.size());
  std::vector<data::LabelRow> rows = data::read_label_csv(order_csv);
  // Images left out by --skip-bad-images are left out of the order too: the rest keep their
  // places, so the split is the one the order file describes, less the skipped images.
  std::set<std::string> skipped;
  for (const data::SkippedFile& s : ds.skipped) skipped.insert(s.file);
  rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const data::LabelRow& r) { return skipped.count(r.file) > 0; }),
             rows.end());
  std::vector<std::string> names;
  for (const data::LabelRow& r : rows) names.push_back(r.file);
  std::vector<int64_t> idx = data::indices_of(ds, names);
  EFFNET_CHECK(int64_t(idx.size()) == ds.size(), order_csv, " lists ", idx.size(), " images but ", ds.root, " holds ",
               ds.size());
  for (size_t k = 0; k < idx.size(); ++k)
    EFFNET_CHECK(ds.labels[size_t(idx[k])] == rows[k].label, order_csv, ": ", rows[k].file, " has label ",
                 rows[k].label, " but lies in class folder ", ds.labels[size_t(idx[k])]);
  return idx;
}

void check_model_name(const std::string& name) { config_for(name, 10); }

WeightsMeta check_weights_file(const std::string& path, const std::string& model) {
  require_file(path, "weights file");
  WeightsMeta meta = read_meta(path);
  if (!model.empty()) {
    const std::string want = config_for(model, 10).name;
    EFFNET_CHECK(meta.config.name == want, path, " holds weights for ", meta.config.name, ", not for --model ", model,
                 " (leave --model out to use the file's architecture)");
  }
  return meta;
}

Settings class_settings(const std::vector<std::string>& classes) {
  Settings s;
  for (size_t i = 0; i < classes.size(); ++i) s.emplace_back("class." + std::to_string(i), classes[i]);
  return s;
}

std::vector<std::string> classes_from_settings(const std::vector<ConfigEntry>& settings) {
  std::map<int64_t, std::string> by_index;
  for (const ConfigEntry& e : settings)
    if (e.key.rfind("class.", 0) == 0) {
      const std::optional<int64_t> i = parse_int64(e.key.substr(6));
      if (!i) return {};  // not a class list of ours: ignore, as below
      by_index[*i] = e.value;
    }
  std::vector<std::string> out;
  for (const auto& [i, name] : by_index) {
    if (i != int64_t(out.size())) return {};  // not a dense list: ignore
    out.push_back(name);
  }
  return out;
}

std::string find_imagenet_classes() {
  std::vector<fs::path> places;
  if (const char* src = std::getenv("EFFNET_SOURCE_DIR")) places.push_back(fs::path(src) / "weights");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    places.push_back(exe.parent_path() / "weights");
    places.push_back(exe.parent_path().parent_path() / "weights");
  }
  places.push_back(fs::path("weights"));
  for (const fs::path& p : places)
    if (fs::is_regular_file(p / "imagenet_classes.txt", ec)) return (p / "imagenet_classes.txt").string();
  return "";
}

LoadedModel load_model(const std::string& path, const std::string& class_names_file) {
  require_file(path, "checkpoint");
  LoadedModel m;
  m.net = load_efficientnet(path, 0, &m.meta);
  if (is_checkpoint(path)) {
    m.settings = parse_config_text(read_training_state(path).config, path);
    m.classes = classes_from_settings(m.settings);
  }
  const int64_t k = m.meta.config.num_classes;
  if (m.classes.empty()) {
    std::string names = class_names_file;
    if (names.empty() && k == 1000) names = find_imagenet_classes();
    if (!names.empty()) m.classes = data::read_class_names(names);
  }
  if (m.classes.empty())
    for (int64_t i = 0; i < k; ++i) m.classes.push_back(std::to_string(i));
  EFFNET_CHECK(int64_t(m.classes.size()) == k, path, ": the model has ", k, " outputs but ", m.classes.size(),
               " class names were found");
  return m;
}

data::Transform eval_transform(const WeightsMeta& meta, int64_t image_size) {
  data::Transform t;
  t.height = t.width = int(input_resolution(meta, image_size));
  for (int c = 0; c < 3; ++c) {
    t.mean[size_t(c)] = float(meta.input_mean[size_t(c)]);
    t.std[size_t(c)] = float(meta.input_std[size_t(c)]);
  }
  return t;
}

}  // namespace effnet::app
