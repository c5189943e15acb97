// Training checkpoints: model, optimizer state, LR-scheduler state, epoch,
// step, the random generator and metrics in one .npz file with a format
// version, written atomically (a temporary file, then rename), so a killed
// run leaves the previous checkpoint intact and numpy can inspect it:
//   model/<state_dict name>          parameters and buffers
//   optimizer/<group>/<index>/<key>  per-parameter state (momentum_buffer, exp_avg, ...)
//   meta.json                        uint8 bytes of a JSON object: format_version,
//                                    epoch, step, generator, optimizer (name, group
//                                    lrs, steps), scheduler (name, state), metrics, extra
// Resuming restores all of it, so the next step's loss equals that of a run
// that was never interrupted.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/optim/lr_scheduler.h"
#include "engine/optim/optimizer.h"
#include "engine/random.h"
#include "layers/module.h"

namespace ember {

inline constexpr int kCheckpointFormatVersion = 1;

struct CheckpointInfo {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // optimizer steps taken
  GeneratorState generator;
  nlohmann::json metrics = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::object();  // the trainer's own (config, class names, ...)
};

// Writes model, optimizer (may be null), scheduler (may be null) and info to `path`.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const LRScheduler* scheduler, const CheckpointInfo& info);

struct Checkpoint {
  NamedTensors model;      // state_dict entries
  NamedTensors optimizer;  // "group/index/key" entries
  nlohmann::json meta;
  CheckpointInfo info() const;
};

// Reads a checkpoint; errors name the file (not a checkpoint, newer format, truncated).
Checkpoint load_checkpoint(const std::string& path);

// Puts a loaded checkpoint back: model weights (strict), optimizer state and
// step count, scheduler state. The optimizer and scheduler must have been
// built with the same parameter groups as when the checkpoint was written.
void restore_checkpoint(const Checkpoint& ckpt, Module& model, Optimizer* optimizer, LRScheduler* scheduler,
                        const std::string& where);

}  // namespace ember
