// Every layer: include this to build models.
#pragma once

#include "layers/activation.h"
#include "layers/basic.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/conv_norm_activation.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/module.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
#include "layers/squeeze_excitation.h"
