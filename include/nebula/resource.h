/*
 * nebula/resource.h - everything a user of Nebula Resource needs.
 */
#ifndef NEBULA_RESOURCE_H
#define NEBULA_RESOURCE_H

#include "nebula/version.h"
#include "nebula/alloc.h"
#include "nebula/error.h"
#include "nebula/time.h"
#include "nebula/cancel.h"
#include "nebula/scope.h"
#include "nebula/id.h"
#include "nebula/lifecycle.h"
#include "nebula/secret.h"
#include "nebula/config_fields.h"
#include "nebula/config.h"
#include "nebula/health.h"
#include "nebula/resource_type.h"
#include "nebula/pool.h"
#include "nebula/hooks.h"
#include "nebula/trace.h"
#include "nebula/credential.h"
#include "nebula/provider.h"
#include "nebula/manager.h"
#include "nebula/graph.h"

#endif
