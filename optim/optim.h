// ember's optimisers in one include: flat parameter buffers (with gradient clipping),
// optimisers, spec strings and LR schedules.
#pragma once

#include "optim/flat_parameters.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "optim/spec.h"
#include "optim/state8bit.h"
