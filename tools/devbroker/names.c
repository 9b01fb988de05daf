/* Name lookups for ApiKeys and error codes. librdkafka exports no ApiKey
 * names, so the protocol's table is kept here; error names come from
 * rd_kafka_get_err_descs() so that every code librdkafka knows is accepted. */
#include "names.h"

#include <string.h>
#include <strings.h>

#include "eg/error.h"
#include "eg/parse.h"

/* Kafka protocol ApiKeys 0..47, indexed by key. */
static const char *const apikey_names[DBK_APIKEY_MAX + 1] = {
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "LeaderAndIsr",
    "StopReplica",
    "UpdateMetadata",
    "ControlledShutdown",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "DescribeGroups",
    "ListGroups",
    "SaslHandshake",
    "ApiVersions",
    "CreateTopics",
    "DeleteTopics",
    "DeleteRecords",
    "InitProducerId",
    "OffsetForLeaderEpoch",
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
    "WriteTxnMarkers",
    "TxnOffsetCommit",
    "DescribeAcls",
    "CreateAcls",
    "DeleteAcls",
    "DescribeConfigs",
    "AlterConfigs",
    "AlterReplicaLogDirs",
    "DescribeLogDirs",
    "SaslAuthenticate",
    "CreatePartitions",
    "CreateDelegationToken",
    "RenewDelegationToken",
    "ExpireDelegationToken",
    "DescribeDelegationToken",
    "DeleteGroups",
    "ElectLeaders",
    "IncrementalAlterConfigs",
    "AlterPartitionReassignments",
    "ListPartitionReassignments",
    "OffsetDelete"};

/* Compares s with name, ignoring case, allowing s an extra suffix. */
static int name_matches(const char *s, const char *name, const char *suffix) {
  size_t n = strlen(name);

  if (strncasecmp(s, name, n) != 0)
    return 0;
  if (s[n] == '\0')
    return 1;
  return suffix != NULL && strcasecmp(s + n, suffix) == 0;
}

int dbk_names_apikey(const char *s, int16_t *out) {
  uint64_t v;

  if (s == NULL || out == NULL)
    return EG_EINVAL;
  if (eg_parse_u64(s, 0, DBK_APIKEY_MAX, &v) == EG_OK) {
    *out = (int16_t)v;
    return EG_OK;
  }
  for (int16_t k = 0; k <= DBK_APIKEY_MAX; k++) {
    if (name_matches(s, apikey_names[k], "Request")) {
      *out = k;
      return EG_OK;
    }
  }
  return EG_EINVAL;
}

const char *dbk_names_apikey_str(int16_t key) {
  if (key < 0 || key > DBK_APIKEY_MAX)
    return "?";
  return apikey_names[key];
}

/* Parses an optionally negative decimal number. */
static int parse_int(const char *s, long long *out) {
  uint64_t v;
  int neg = s[0] == '-';

  if (eg_parse_u64(s + neg, 0, 1000000, &v) != EG_OK)
    return EG_EINVAL;
  *out = neg ? -(long long)v : (long long)v;
  return EG_OK;
}

int dbk_names_error(const char *s, rd_kafka_resp_err_t *out) {
  const struct rd_kafka_err_desc *descs;
  size_t ndescs;
  long long num;
  const char *name = s;
  int by_num;

  if (s == NULL || out == NULL)
    return EG_EINVAL;
  by_num = parse_int(s, &num) == EG_OK;
  if (!by_num && strncasecmp(name, "RD_KAFKA_RESP_ERR_", 18) == 0)
    name += 18;
  if (*name == '\0')
    return EG_EINVAL;

  /* The table is indexed from RD_KAFKA_RESP_ERR__BEGIN with unnamed holes. */
  rd_kafka_get_err_descs(&descs, &ndescs);
  for (size_t i = 0; i < ndescs; i++) {
    if (descs[i].name == NULL)
      continue;
    if (by_num ? (long long)descs[i].code == num
               : strcasecmp(descs[i].name, name) == 0) {
      /* _BEGIN and _END are range markers, not errors. */
      if (descs[i].code == RD_KAFKA_RESP_ERR__BEGIN ||
          descs[i].code == RD_KAFKA_RESP_ERR__END)
        return EG_EINVAL;
      *out = descs[i].code;
      return EG_OK;
    }
  }
  return EG_EINVAL;
}
