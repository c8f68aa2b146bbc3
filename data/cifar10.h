// The CIFAR-10 binary format: reader and writer.
//
// A file is a sequence of 3073-byte records: 1 label byte (0-9), then 3072 pixel bytes
// (1024 R, 1024 G, 1024 B, each row-major 32x32). The official release has data_batch_1.bin
// .. data_batch_5.bin (train, 10,000 records each) and test_batch.bin (10,000) in a folder
// cifar-10-batches-bin/. Any whole number of records per file is accepted, so subsets work.
//
// Every failure is an ember::Error whose message is one line naming the file: a missing
// folder or file (with how to get the data and the synthetic alternative), a size that is
// not a whole number of records, a label above 9 (with the record index), an unreadable file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ember::data {

constexpr int64_t kCifarRecordBytes = 3073;

const std::vector<std::string>& cifar10_train_files();  // data_batch_1.bin .. data_batch_5.bin
const std::string& cifar10_test_file();                 // test_batch.bin

// Reads the first `limit` records of one file (all when limit < 0), on the CPU.
Dataset read_cifar_file(const std::string& path, int64_t limit = -1);
// Writes d (any device) as one CIFAR binary file; labels must be 0-9.
void write_cifar_file(const std::string& path, const Dataset& d);

// The folder holding the six files: `dir` itself or its cifar-10-batches-bin/ subfolder.
// Throws the "missing data" error naming both places when neither has data_batch_1.bin.
std::string find_cifar10_dir(const std::string& dir);

// Train (the five data batches, concatenated) and test sets from `dir` (see
// find_cifar10_dir). limit_train / limit_test >= 0 keep only the first so many images (only
// the records needed are read); < 0 keeps all.
DataSplits load_cifar10(const std::string& dir, int64_t limit_train = -1, int64_t limit_test = -1);

// Writes splits in the official layout into `dir` (created if needed): the train set split
// into data_batch_1..5.bin as evenly as possible (the first files take the remainder),
// test_batch.bin, and batches.meta.txt with the class names.
void write_cifar10_dir(const std::string& dir, const DataSplits& splits);

}  // namespace ember::data
