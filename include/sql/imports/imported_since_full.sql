-- Partitions already in the dataset: those of the newest FULL import and every INCREMENTAL one after it.
SELECT DISTINCT i.partition_label
  FROM {schema}.dataset_imports AS i
 WHERE i.dataset_group = %(dataset_group)s
   AND i.dataset = %(dataset)s
   AND i.imported_at >= coalesce(
         (SELECT max(f.imported_at) FROM {schema}.dataset_imports AS f
           WHERE f.dataset_group = %(dataset_group)s AND f.dataset = %(dataset)s
             AND f.import_mode = 'FULL'),
         '-infinity')
