#ifndef CRMHUB_CMEMORYHINTS_H
#define CRMHUB_CMEMORYHINTS_H

/// Asks the processor to start loading the cache line that holds `address` for reading, and to keep it in every
/// cache level, without waiting for it: a hint that never faults (any address is allowed) and changes no result.
/// Swift has no spelling for the prefetch instruction; callers that know which addresses they will read a little
/// later (the identity graph, one record ahead) issue these so that the cache misses overlap the current work.
static inline void crm_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
