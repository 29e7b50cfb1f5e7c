// The records the pipeline's stages hand on, on disk: OUT/<stage>/done.txt holds "key = value"
// lines of one record (stages.h, results.h), written atomically when the stage has finished and
// read back only when a later run finds the stage done. Fields are written by one description
// per record type (stage_record.cpp), so the writer and the reader cannot disagree; reading
// throws naming the file and the key for anything missing or malformed.
#pragma once

#include <string>

namespace effnet::app {

std::string record_path(const std::string& stage_dir);
bool has_record(const std::string& stage_dir);
// For TrainingRecord, PredictRecord, PseudolabelRecord and FinetuneStageRecord.
template <class Record>
void write_record(const std::string& stage_dir, const Record& record);
template <class Record>
Record read_record(const std::string& stage_dir);

}  // namespace effnet::app
