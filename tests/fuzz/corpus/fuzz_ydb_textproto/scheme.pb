# a comment
columns {
  name: "id"
  type {
    type_id: UINT64
  }
  not_null: true
}
columns {
  name: "\321\206\320\265\320\275\320\260"
  type {
    optional_type {
      item {
        decimal_type {
          precision: 22
          scale: 9
        }
      }
    }
  }
  family: "default"
}
columns { name: 'v' type { optional_type { item { type_id: UTF8 } } } }
primary_key: "id"
storage_settings { tablet_commit_log0 { media: "ssd" } store_external_blobs: DISABLED }
partitioning_settings: { partitioning_by_size: ENABLED partition_size_mb: 2048 min_partitions_count: 1 }
attributes { key: "__incremental_backup" value: "{}" }
[ext.some.field] <a: -1.5e3 b: [1, 2, 0x1F] c: ["x", 'y'] d: -inf>
key_bloom_filter: DISABLED
