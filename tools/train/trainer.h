// `ember train`: a complete supervised training run from a TrainConfig.
//
// A run folder (output.dir/output.name, printed at the start) receives:
//   config.json          the full configuration with every default filled in
//   metrics.csv          every scalar per epoch (and per-step training loss)
//   tensorboard/         event files: Loss/train, Accuracy/train, Loss/val, Accuracy/val, lr
//   loss.png, accuracy.png   train vs validation curves, redrawn every epoch
//   last.ckpt, best.ckpt     checkpoints (atomic; best by train.checkpoint_metric)
//   report.txt, confusion_matrix.png   the final evaluation
// Ctrl-C finishes the current step, saves last.ckpt and exits; a NaN or
// infinite loss stops the run with the last good checkpoint kept.
#pragma once

#include <string>

#include "tools/train/train_config.h"

namespace ember {

// Runs the training; returns the process exit code (0: success; 1: the run
// stopped on an error or non-finite loss; 130: interrupted by Ctrl-C).
int run_training(const TrainConfig& config);

}  // namespace ember
