using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// Rebuilds a <see cref="PersistentState"/> from log records read in order, with exactly the semantics of
/// <see cref="InMemoryReplicaStorage"/>: Proposals and ordered slots in the order written, and for pending
/// updates the last one of each client, in the order clients first appeared.
/// </summary>
internal sealed class WalStateBuilder
{
    private readonly List<Proposal> _proposals = [];
    private readonly List<OrderedSlot> _ordered = [];
    private readonly Dictionary<ClientId, ClientUpdate> _pending = [];
    private readonly List<ClientId> _pendingOrder = [];

    /// <summary>The highest slot any record applied so far holds (a Proposal's last or an ordered slot); 0 when none.</summary>
    public long MaxSlot { get; private set; }

    /// <summary>Applies one intact record other than a batch record; false if its payload is malformed.</summary>
    public bool TryApply(WalRecordType type, ReadOnlySpan<byte> payload)
    {
        var reader = new SpanReader(payload);
        return type switch
        {
            WalRecordType.AcceptedProposal => TryApplyProposal(ref reader),
            WalRecordType.Ordered => TryApplyOrdered(ref reader),
            WalRecordType.Pending => TryApplyPending(ref reader),
            _ => false,
        };
    }

    /// <summary>The state, with <paramref name="lastInstalled"/> and <paramref name="lastAttempted"/> from the
    /// <c>view</c> file.</summary>
    public PersistentState Build(ViewNumber lastInstalled, ViewNumber lastAttempted)
    {
        var pending = new List<ClientUpdate>(_pendingOrder.Count);
        foreach (var client in _pendingOrder)
        {
            pending.Add(_pending[client]);
        }

        return new PersistentState
        {
            LastInstalled = lastInstalled,
            LastAttempted = lastAttempted,
            AcceptedProposals = _proposals,
            OrderedSlots = _ordered,
            PendingUpdates = pending,
        };
    }

    private bool TryApplyProposal(ref SpanReader reader)
    {
        if (!reader.TryReadInt32(out var sender) || sender < 0 || sender >= WalFormat.MaxClusterSize
            || !reader.TryReadFields(out var view, out var first)
            || !UpdateEncoding.TryReadList(ref reader, minimumCount: 1, WalFormat.MaxClusterSize, out var updates)
            || first > long.MaxValue - updates.Length)
        {
            return false;
        }

        _proposals.Add(new Proposal(new ReplicaId(sender), new ViewNumber(view), new SequenceNumber(first), updates));
        MaxSlot = Math.Max(MaxSlot, first + updates.Length - 1);
        return true;
    }

    private bool TryApplyOrdered(ref SpanReader reader)
    {
        if (!reader.TryReadFields(out var first)
            || !UpdateEncoding.TryReadList(ref reader, minimumCount: 1, WalFormat.MaxClusterSize, out var updates)
            || first > long.MaxValue - updates.Length)
        {
            return false;
        }

        for (var i = 0; i < updates.Length; i++)
        {
            _ordered.Add(new OrderedSlot(new SequenceNumber(first + i), updates[i]));
        }

        MaxSlot = Math.Max(MaxSlot, first + updates.Length - 1);

        return true;
    }

    private bool TryApplyPending(ref SpanReader reader)
    {
        var check = reader;
        var payloadBytes = 0;
        if (!UpdateEncoding.TrySkip(ref check, WalFormat.MaxClusterSize, ref payloadBytes) || !check.IsEmpty)
        {
            return false;
        }

        var payloads = new PayloadBuffer(payloadBytes);
        var update = UpdateEncoding.ReadChecked(ref reader, ref payloads);
        if (update.IsNoOp)
        {
            return false;
        }

        if (!_pending.ContainsKey(update.ClientId))
        {
            _pendingOrder.Add(update.ClientId);
        }

        _pending[update.ClientId] = update;
        return true;
    }
}
