// SimCLR (Chen et al. 2020) in `ember train` (task: simclr): contrastive
// pre-training of the model's encoder on two augmented views of each
// training image with the NT-Xent loss, through a projection head
// (Linear-ReLU-Linear); then, as simclr.then says, a linear probe (frozen
// encoder, new Linear head) or fine-tuning of the whole network on the
// labels, run as an ordinary classification training in a subfolder.
#pragma once

#include "tools/train/train_config.h"

namespace ember {

int run_simclr(const TrainConfig& config);

}  // namespace ember
