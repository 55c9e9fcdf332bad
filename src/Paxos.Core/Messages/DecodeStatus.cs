namespace Paxos.Messages;

/// <summary>
/// The outcome of <see cref="MessageCodec.TryDecode"/>. Anything but <see cref="Ok"/> means the datagram
/// is dropped and counted; none of them is an error of the receiving replica. A datagram gets the status
/// of the first check it fails, in the order <see cref="MessageCodec.TryDecode"/> documents.
/// </summary>
public enum DecodeStatus
{
    /// <summary>The frame is intact and holds a well-formed message.</summary>
    Ok = 0,

    /// <summary>The frame is shorter than the smallest frame, or than its header declares.</summary>
    Truncated,

    /// <summary>The frame is longer than <see cref="MessageCodec.MaxFrameBytes"/>.</summary>
    TooLarge,

    /// <summary>The frame does not start with the magic bytes "PX": it is not a Paxos.Core datagram.</summary>
    BadMagic,

    /// <summary>The frame's format version is not one this codec reads.</summary>
    UnsupportedVersion,

    /// <summary>The frame sets an unknown flag, or claims an HMAC while this codec has no cluster key.</summary>
    BadFlags,

    /// <summary>The frame belongs to another cluster.</summary>
    WrongCluster,

    /// <summary>The sender id is not a member of this cluster.</summary>
    UnknownSender,

    /// <summary>The message type is not one this codec knows.</summary>
    UnknownType,

    /// <summary>The frame's CRC-32C does not match its bytes: it was corrupted on the way.</summary>
    BadChecksum,

    /// <summary>The frame's HMAC-SHA256 does not match: it was corrupted, forged, or sent with another key.</summary>
    BadMac,

    /// <summary>This codec has a cluster key, but the frame carries only a CRC: anyone could have sent it.</summary>
    Unauthenticated,

    /// <summary>The body is inconsistent: a count or length that does not fit, bytes left over, a reserved
    /// field that is not zero, or a field out of its range (a negative view, an invalid update).</summary>
    Malformed,

    /// <summary>The frame belongs to this cluster but was sent by a replica configured with another cluster size:
    /// the two disagree on the membership, and so on what a majority is. Checked after the cluster id.</summary>
    WrongConfiguration,
}
