using System.Globalization;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// Turns the durable part of an <see cref="OutputBatch"/> into log records (<see cref="WalFormat"/>): a batch
/// record, then the accepted Proposals, the pending updates and the ordered slots, in the batch's order.
/// Measuring also validates, with the same rules the decoder applies, so that the log never holds a record
/// recovery would refuse.
/// </summary>
internal static class WalBatchEncoder
{
    private const int ProposalFixedBytes = 1 + 4 + 8 + 8 + 4;
    private const int OrderedFixedBytes = 1 + 8 + 4;

    /// <summary>The bytes the batch's records take, batch record included, or 0 when the batch has nothing to
    /// log. <paramref name="records"/> counts the records besides the batch record.</summary>
    /// <exception cref="ArgumentException">The batch holds something the log cannot represent (an empty
    /// Proposal, a negative view or slot, an invalid update, a record over <see cref="WalFormat.MaxRecordBytes"/>).</exception>
    public static int Measure(OutputBatch batch, out int records)
    {
        records = 0;
        long total = 0;
        var proposals = batch.AcceptedProposals;
        for (var i = 0; i < proposals.Count; i++)
        {
            total += WalFormat.RecordPrefixBytes + MeasureProposal(proposals[i]);
            records++;
        }

        var pending = batch.PendingUpdates;
        for (var i = 0; i < pending.Count; i++)
        {
            total += WalFormat.RecordPrefixBytes + MeasurePending(pending[i]);
            records++;
        }

        var ordered = batch.OrderedSlots;
        for (var start = 0; start < ordered.Count; records++)
        {
            var count = OrderedRun(ordered, start, out var updateBytes);
            total += WalFormat.RecordPrefixBytes + OrderedFixedBytes + updateBytes;
            start += count;
        }

        if (records == 0)
        {
            return 0;
        }

        total += WalFormat.BatchRecordBytes;
        return total <= Array.MaxLength
            ? (int)total
            : throw new ArgumentException(Text($"Batch {batch.Number} needs {total} bytes of log; a batch must stay under 2 GiB."), nameof(batch));
    }

    /// <summary>Writes the records <see cref="Measure"/> measured into <paramref name="destination"/> (exactly
    /// that long), whose first byte will sit at <paramref name="offset"/> of a segment with <paramref name="salt"/>.</summary>
    public static void Encode(OutputBatch batch, long durableOffset, Span<byte> destination, long offset, ulong salt)
    {
        var at = WriteBatchRecord(batch.Number, durableOffset, destination, offset, salt);
        var proposals = batch.AcceptedProposals;
        for (var i = 0; i < proposals.Count; i++)
        {
            var proposal = proposals[i];
            var writer = Begin(destination, at, WalRecordType.AcceptedProposal);
            writer.WriteInt32(proposal.Sender.Value);
            writer.WriteInt64(proposal.View.Value);
            writer.WriteInt64(proposal.FirstSequence.Value);
            UpdateEncoding.WriteList(proposal.UpdateArray, ref writer);
            at = Seal(destination, at, writer.Written, offset, salt);
        }

        var pending = batch.PendingUpdates;
        for (var i = 0; i < pending.Count; i++)
        {
            var writer = Begin(destination, at, WalRecordType.Pending);
            UpdateEncoding.Write(pending[i], ref writer);
            at = Seal(destination, at, writer.Written, offset, salt);
        }

        var ordered = batch.OrderedSlots;
        for (var start = 0; start < ordered.Count;)
        {
            var count = OrderedRun(ordered, start, out _);
            var writer = Begin(destination, at, WalRecordType.Ordered);
            writer.WriteInt64(ordered[start].Sequence.Value);
            writer.WriteUInt32((uint)count);
            for (var i = start; i < start + count; i++)
            {
                UpdateEncoding.Write(ordered[i].Update, ref writer);
            }

            at = Seal(destination, at, writer.Written, offset, salt);
            start += count;
        }

        if (at != destination.Length)
        {
            throw new InvalidOperationException(Text($"Batch {batch.Number} was measured at {destination.Length} bytes of log but encoded in {at}."));
        }
    }

    private static int WriteBatchRecord(long batchNumber, long durableOffset, Span<byte> destination, long offset, ulong salt)
    {
        var writer = Begin(destination, 0, WalRecordType.Batch);
        writer.WriteInt64(batchNumber);
        writer.WriteInt64(durableOffset);
        return Seal(destination, 0, writer.Written, offset, salt);
    }

    /// <summary>Starts a record at <paramref name="at"/>: a writer placed after the length and checksum, with the
    /// type written.</summary>
    private static SpanWriter Begin(Span<byte> destination, int at, WalRecordType type)
    {
        var writer = new SpanWriter(destination[(at + WalFormat.RecordPrefixBytes)..]);
        writer.WriteByte((byte)type);
        return writer;
    }

    /// <summary>Fills in the length and checksum of the record at <paramref name="at"/> whose type and payload
    /// took <paramref name="length"/> bytes, and returns where the next record starts.</summary>
    private static int Seal(Span<byte> destination, int at, int length, long offset, ulong salt)
    {
        var end = at + WalFormat.RecordPrefixBytes + length;
        WalFormat.SealRecord(destination[at..end], salt, offset + at);
        return end;
    }

    /// <summary>The type-and-payload length of a Proposal's record.</summary>
    private static long MeasureProposal(Proposal proposal)
    {
        var updates = proposal.UpdateArray;
        if (updates.Length == 0 || proposal.View.Value < 0 || proposal.FirstSequence.Value < 0
            || proposal.Sender.Value < 0 || proposal.Sender.Value >= WalFormat.MaxClusterSize)
        {
            throw new ArgumentException(Text($"The log cannot hold {proposal} from {proposal.Sender}: it is empty, or has a negative view or slot, or an invalid sender."), nameof(proposal));
        }

        long length = ProposalFixedBytes;
        foreach (var update in updates)
        {
            length += MeasureUpdate(update);
        }

        return CheckRecordLength(length, proposal);
    }

    private static long MeasurePending(ClientUpdate update) =>
        update.IsNoOp
            ? throw new ArgumentException("The no-op cannot be a pending update.", nameof(update))
            : CheckRecordLength(1 + MeasureUpdate(update), update);

    /// <summary>How many slots from <paramref name="start"/> go into one Ordered record: consecutive sequence
    /// numbers, and at most <see cref="WalFormat.OrderedRunPayloadBytes"/> of updates unless one alone is larger.</summary>
    private static int OrderedRun(IReadOnlyList<OrderedSlot> slots, int start, out long updateBytes)
    {
        updateBytes = 0;
        var count = 0;
        while (start + count < slots.Count)
        {
            var slot = slots[start + count];
            if (slot.Sequence.Value < 0)
            {
                throw new ArgumentException(Text($"The log cannot hold the ordered slot {slot.Sequence}: it is negative."), nameof(slots));
            }

            var bytes = MeasureUpdate(slot.Update);
            var consecutive = count == 0 || slot.Sequence.Value == slots[start].Sequence.Value + count;
            if (count > 0 && (!consecutive || updateBytes + bytes > WalFormat.OrderedRunPayloadBytes))
            {
                break;
            }

            updateBytes += bytes;
            count++;
        }

        CheckRecordLength(OrderedFixedBytes + updateBytes, slots[start].Update);
        return count;
    }

    private static long MeasureUpdate(ClientUpdate? update) =>
        update is not null
        && UpdateEncoding.IsValid(update.ClientId.Value, update.Timestamp, update.Origin.Value, update.Payload.Length, WalFormat.MaxClusterSize)
            ? UpdateEncoding.Measure(update)
            : throw new ArgumentException(Text($"The log cannot hold the update {update?.ToString() ?? "null"} (origin {update?.Origin.ToString() ?? "-"}): it is invalid."), nameof(update));

    private static long CheckRecordLength(long length, object what) =>
        length <= WalFormat.MaxRecordBytes
            ? length
            : throw new ArgumentException(Text($"The log record for {what} would be {length} bytes, over the limit of {WalFormat.MaxRecordBytes}."), nameof(what));

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
