namespace Paxos.Messages;

/// <summary>
/// How a <see cref="MessageCodec"/> frames messages: which cluster it belongs to, how big the cluster and
/// its messages are, and whether frames are authenticated. Read once, when the codec is built, which
/// validates them and fails with a message naming the option.
/// </summary>
public sealed class MessageCodecOptions
{
    /// <summary>The smallest allowed <see cref="ClusterKey"/>, in bytes.</summary>
    public const int MinClusterKeyBytes = 16;

    /// <summary>Names the cluster: a frame carrying another id is dropped, so two clusters that share a network
    /// (or a test and production) cannot mix. Default 0.</summary>
    public uint ClusterId { get; set; }

    /// <summary>The number of replicas, from 1 to 64, as in <see cref="PaxosOptions.ClusterSize"/>: a frame from
    /// a sender id at or above it is dropped. Default 3.</summary>
    public int ClusterSize { get; set; } = 3;

    /// <summary>The cluster's shared secret. Empty (the default): frames end with a CRC-32C, which detects
    /// corruption only. Set (at least <see cref="MinClusterKeyBytes"/> bytes): frames end with an
    /// HMAC-SHA256 keyed with it, and unauthenticated frames are refused. The codec copies it.</summary>
    public ReadOnlyMemory<byte> ClusterKey { get; set; }

    /// <summary>The largest message body, in bytes, with the meaning and range of
    /// <see cref="PaxosOptions.MaxMessageBytes"/> (from 512 to 65,000); use the same value. Default 1400.</summary>
    public int MaxMessageBytes { get; set; } = 1400;
}
