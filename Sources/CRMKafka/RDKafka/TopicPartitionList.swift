import CRDKafka

/// Owns an `rd_kafka_topic_partition_list_t`.
final class TopicPartitionList: @unchecked Sendable {
    // Only read after construction, by librdkafka calls that copy what they need.
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ offsets: [TopicPartitionOffset]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(offsets.count, 1)))
        for entry in offsets {
            let element = rd_kafka_topic_partition_list_add(
                pointer, entry.topicPartition.topic, entry.topicPartition.partition)
            element?.pointee.offset = entry.offset
        }
    }

    init(_ partitions: [TopicPartition]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))
        for partition in partitions {
            rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition)
        }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// Reads a C list that librdkafka owns.
    static func partitions(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [TopicPartitionOffset] {
        guard let list else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return TopicPartitionOffset(
                TopicPartition(topic: String(cString: element.topic), partition: element.partition),
                offset: element.offset)
        }
    }

    /// The first per-partition error in a list librdkafka filled in, if any.
    static func firstError(
        in list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) -> (TopicPartition, rd_kafka_resp_err_t)? {
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                return (
                    TopicPartition(topic: String(cString: element.topic), partition: element.partition), element.err
                )
            }
        }
        return nil
    }
}
