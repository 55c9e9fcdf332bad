using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>
/// Why a <see cref="UdpTransport"/> dropped a frame or a datagram. The first twelve and
/// <see cref="WrongConfiguration"/> mirror the failures of <see cref="DecodeStatus"/> (a received frame the codec
/// refused); the rest are the transport's own. New reasons are added at the end, so the values never change.
/// Each is counted (<see cref="UdpTransport.DroppedCount"/>, and the <c>paxos.udp.frames.dropped</c> metric
/// tagged <c>reason</c>) and logged at most once per reason every few seconds.
/// </summary>
public enum UdpDropReason
{
    /// <summary>Received: <see cref="DecodeStatus.Truncated"/> (also an empty datagram).</summary>
    Truncated = 1,

    /// <summary>Received: <see cref="DecodeStatus.TooLarge"/>, or a datagram above <see cref="UdpTransportOptions.MaxDatagramBytes"/>.</summary>
    TooLarge,

    /// <summary>Received: <see cref="DecodeStatus.BadMagic"/>.</summary>
    BadMagic,

    /// <summary>Received: <see cref="DecodeStatus.UnsupportedVersion"/>.</summary>
    UnsupportedVersion,

    /// <summary>Received: <see cref="DecodeStatus.BadFlags"/>.</summary>
    BadFlags,

    /// <summary>Received: <see cref="DecodeStatus.WrongCluster"/>.</summary>
    WrongCluster,

    /// <summary>Received: <see cref="DecodeStatus.UnknownSender"/>.</summary>
    UnknownSender,

    /// <summary>Received: <see cref="DecodeStatus.UnknownType"/>.</summary>
    UnknownType,

    /// <summary>Received: <see cref="DecodeStatus.BadChecksum"/>.</summary>
    BadChecksum,

    /// <summary>Received: <see cref="DecodeStatus.BadMac"/>.</summary>
    BadMac,

    /// <summary>Received: <see cref="DecodeStatus.Unauthenticated"/>.</summary>
    Unauthenticated,

    /// <summary>Received: <see cref="DecodeStatus.Malformed"/>.</summary>
    Malformed,

    /// <summary>Received: an intact frame whose sender id is not the replica its datagram came from.</summary>
    SenderMismatch,

    /// <summary>Received: a datagram from an endpoint that is not in <see cref="UdpTransportOptions.Peers"/>.</summary>
    UnknownEndpoint,

    /// <summary>Received: the receiver threw while taking a message (a bug of the receiver; the loop goes on).</summary>
    ReceiverFailed,

    /// <summary>Sent: the destination is not a peer (this replica itself, or an id outside the cluster).</summary>
    UnknownDestination,

    /// <summary>Sent: the codec refused the message (larger than <see cref="UdpTransportOptions.MaxMessageBytes"/>, or
    /// a field it never sends). A bug of the protocol or of the configuration; logged as an error.</summary>
    EncodeFailed,

    /// <summary>Sent: the socket refused the datagram (its buffer is full, the network is unreachable); one count
    /// per frame the datagram held.</summary>
    SendFailed,

    /// <summary>Sent: the transport is not running (not started yet, or disposed).</summary>
    NotRunning,

    /// <summary>Received: <see cref="DecodeStatus.WrongConfiguration"/>: a frame of this cluster from a replica
    /// configured with another cluster size: one of the two replicas is misconfigured.</summary>
    WrongConfiguration,
}
