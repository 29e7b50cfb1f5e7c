// The subcommands of the effnet binary. Each takes argc/argv (argv[1] is the subcommand name) and
// returns the process exit status. Registered explicitly in main.cpp.
#pragma once

namespace effnet::app {
int cmd_info(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_prepare(int argc, char** argv);
int cmd_finetune(int argc, char** argv);
int cmd_pseudolabel(int argc, char** argv);
int cmd_retrain(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_pipeline(int argc, char** argv);
}  // namespace effnet::app
