namespace Paxos.Messages;

/// <summary>
/// Upper bounds on the encoded size of messages, which the replica uses to split Proposals, data lists
/// and catch-up answers so that each fits <see cref="PaxosOptions.MaxMessageBytes"/>. A codec must never
/// encode a message larger than these bounds say.
/// </summary>
public static class MessageSizes
{
    /// <summary>The smallest allowed <see cref="PaxosOptions.MaxMessageBytes"/>.</summary>
    public const int MinMessageBytes = 512;

    /// <summary>The largest allowed <see cref="PaxosOptions.MaxMessageBytes"/> (a UDP datagram holds 65,507 bytes).</summary>
    public const int MaxMessageBytes = 65_000;

    /// <summary>Bytes of a message body besides its list of updates or entries: views, sequence numbers, counts.</summary>
    public const int HeaderBytes = 40;

    /// <summary>Bytes one update costs besides its payload: client id, timestamp, origin, payload length.</summary>
    public const int UpdateOverheadBytes = 24;

    /// <summary>Bytes one data-list entry costs besides its update: slot, view, kind.</summary>
    public const int EntryOverheadBytes = 17;

    /// <summary>The most one update can add to a message besides its payload, in any message.</summary>
    public const int MaxUpdateOverheadBytes = HeaderBytes + UpdateOverheadBytes + EntryOverheadBytes;

    /// <summary>What a <see cref="SnapshotChunk"/> adds to its bytes: the frame, then its sequence, total length,
    /// offset and the bytes' length.</summary>
    public const int SnapshotChunkOverheadBytes = HeaderBytes + 28;

    /// <summary>The encoded size bound of one update in a Proposal or catch-up answer.</summary>
    public static int Update(ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return UpdateOverheadBytes + update.Payload.Length;
    }

    /// <summary>The encoded size bound of one data-list entry.</summary>
    public static int Entry(in DataListEntry entry) => EntryOverheadBytes + Update(entry.Update);
}
