/* Tracks the offsets a consumer has handed out and those whose outcome is
 * durable, per topic partition, and says how far each partition may be
 * committed: up to (not including) the lowest offset still unfinished, so a
 * crash re-delivers exactly the unfinished events. Thread-safe. */
#ifndef EG_OFFSETS_H
#define EG_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eg_offsets_s eg_offsets_t;

/* One partition's committable position, for eg_offsets_collect(). */
typedef struct eg_offsets_pos_s {
  char topic[128];
  int32_t partition;
  int64_t next; /* the offset to commit: everything before it is done */
} eg_offsets_pos_t;

/* @returns EG_OK or EG_ENOMEM. Free with eg_offsets_free(). */
int eg_offsets_new(eg_offsets_t **out);

/* NULL is a no-op. */
void eg_offsets_free(eg_offsets_t *ot);

/* Records that offset of topic/partition was handed out and is unfinished.
 * Offsets of one partition must be started in increasing order (as a
 * consumer delivers them); a repeated or lower offset (a re-delivery after a
 * seek) is refused with EG_EEXIST and must not be finished.
 * @returns EG_OK, EG_EINVAL (topic longer than 127 bytes, negative offset),
 * EG_EEXIST, EG_ENOMEM. */
int eg_offsets_start(eg_offsets_t *ot,
                     const char *topic,
                     int32_t partition,
                     int64_t offset);

/* Marks a started offset finished (its outcome is durable).
 * @returns EG_OK, or EG_ENOENT if it was not started (or its partition was
 * dropped since). */
int eg_offsets_finish(eg_offsets_t *ot,
                      const char *topic,
                      int32_t partition,
                      int64_t offset);

/* Number of started offsets not yet finished, in one partition (topic NULL:
 * in all partitions). */
size_t
eg_offsets_unfinished(eg_offsets_t *ot, const char *topic, int32_t partition);

/* Writes up to max partitions whose committable position moved since the
 * last collect into out. @returns how many were written. */
size_t eg_offsets_collect(eg_offsets_t *ot, eg_offsets_pos_t *out, size_t max);

/* Forgets a partition (revoked by a rebalance): its unfinished offsets will
 * be re-delivered to whoever owns it next. */
void eg_offsets_drop(eg_offsets_t *ot, const char *topic, int32_t partition);

#endif /* EG_OFFSETS_H */
