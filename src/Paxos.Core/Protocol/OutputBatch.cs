using System.Globalization;
using System.Text;
using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>
/// A message to send: to one replica, or to every other replica when <see cref="Destination"/> is
/// <see cref="ReplicaId.None"/>.
/// </summary>
/// <param name="Destination">The receiving replica, or <see cref="ReplicaId.None"/> for all others.</param>
/// <param name="Message">The message.</param>
public readonly record struct OutboundMessage(ReplicaId Destination, PaxosMessage Message)
{
    /// <summary>Whether the message goes to every other replica.</summary>
    public bool IsBroadcast => Destination.IsNone;

    /// <summary>The one-line description <c>1->2 Accept v=3 seq=17</c> (<c>1->*</c> for a broadcast).</summary>
    public override string ToString() =>
        $"{Message.Sender}->{(IsBroadcast ? "*" : Destination.ToString())} {Message}";
}

/// <summary>How an update ended, as far as its client is concerned.</summary>
public enum ReplyStatus
{
    /// <summary>The update executed; <see cref="ClientReply.Result"/> is the executor's reply.</summary>
    Executed = 0,

    /// <summary>The update will never be answered: a newer update of the same client executed or
    /// replaced it first.</summary>
    Superseded = 1,

    /// <summary>The update was refused and did not execute: its client is not in the client table (it was silent for
    /// <see cref="ProtocolOptions.ClientExpirySlots"/> slots, or it is new) and its timestamp is not above the expiry
    /// mark, so it may be a retry of an update that executed before the table forgot it. <see cref="ClientReply.Sequence"/>
    /// is the slot that refused it, or <see cref="SequenceNumber.None"/> when the replica refused it at submission. The
    /// client must start a new session (<see cref="ReplicaStatus.SessionStartTimestamp"/>). For a session id
    /// (<see cref="ClientSession"/>): the session is not in the client table — it expired, or was never registered —
    /// and the client must open a new one.</summary>
    Expired = 2,

    /// <summary>A session's update skipped a timestamp (it is not the session's last executed one plus one): refused
    /// at <see cref="ClientReply.Sequence"/> on every replica, not executed, and the session's table entry unchanged.</summary>
    OutOfOrder = 3,

    /// <summary>The executor rejected the update (<see cref="UpdateRejectedException"/>): it counts as executed at
    /// <see cref="ClientReply.Sequence"/>, and <see cref="ClientReply.Result"/> holds the executor's error bytes. A
    /// retry is answered the same from the client table.</summary>
    Rejected = 4,
}

/// <summary>The answer to a local client's update.</summary>
/// <param name="ClientId">The client.</param>
/// <param name="Timestamp">The client's timestamp of the update being answered.</param>
/// <param name="Sequence">Where the update executed (or, when <see cref="ReplyStatus.Expired"/>, was refused);
/// <see cref="SequenceNumber.None"/> when superseded or refused at submission.</param>
/// <param name="Status">How the update ended.</param>
/// <param name="Result">The executor's reply, when <paramref name="Status"/> is <see cref="ReplyStatus.Executed"/>; its
/// error bytes when <see cref="ReplyStatus.Rejected"/>.</param>
public readonly record struct ClientReply(
    ClientId ClientId,
    long Timestamp,
    SequenceNumber Sequence,
    ReplyStatus Status,
    ReadOnlyMemory<byte> Result);

/// <summary>A linearizable read the replica gave up on.</summary>
/// <param name="Id">The read.</param>
/// <param name="Reason">Why: <see cref="ReadFailure.NotLeader"/>, <see cref="ReadFailure.LeaderUnknown"/>,
/// <see cref="ReadFailure.Timeout"/> or <see cref="ReadFailure.Overloaded"/>.</param>
public readonly record struct FailedRead(ReadRequestId Id, ReadFailure Reason);

/// <summary>A final binding of an update to a slot, as written to the log.</summary>
/// <param name="Sequence">The slot.</param>
/// <param name="Update">The update bound to it (possibly <see cref="ClientUpdate.NoOp"/>).</param>
public readonly record struct OrderedSlot(SequenceNumber Sequence, ClientUpdate Update);

/// <summary>
/// Everything one step of a <see cref="PaxosReplica"/> asks its host to do, in this order:
/// <list type="number">
/// <item><description><b>Send</b> <see cref="ImmediateMessages"/>: they depend on nothing this batch persists
/// (with <see cref="ProtocolOptions.LeaderSendsAccept"/>, the leader's Proposals, which do not count as its acceptance,
/// and the leader's Accepts of what earlier batches made durable), so sending them first lets the leader's write
/// run in parallel with its peers'.</description></item>
/// <item><description><b>Deliver</b> <see cref="Replies"/> to local clients, at once or at any later step. Each
/// answers an update that has executed (or can never execute), and an update executes only once a majority is
/// known to have accepted it durably: the replica counts its own acceptance only after
/// <see cref="PaxosReplica.AcknowledgePersisted"/>, and a peer's only from a message sent after its write. So a
/// reply depends on nothing this batch persists, and waiting for this batch's fsync would only delay it.</description></item>
/// <item><description><b>Persist</b> <see cref="InstalledView"/>, <see cref="AcceptedProposals"/>,
/// <see cref="PendingUpdates"/> and <see cref="OrderedSlots"/>; when <see cref="RequiresSync"/> is set the
/// first three must be durable (written and fsynced) before anything else happens. Ordered slots may be
/// written lazily: losing them only makes a restart catch up from peers.</description></item>
/// <item><description>Call <see cref="PaxosReplica.AcknowledgePersisted"/> with <see cref="Number"/>. Until
/// then the replica does not count its own acceptances in this batch towards ordering.</description></item>
/// <item><description><b>Send</b> <see cref="Messages"/>. No message may leave before the durable state of its
/// own batch and of every earlier batch is durable: a Prepare_OK, an Accept or a forwarded update is a
/// promise about state that must survive a crash. Once it is, the messages may also leave before the
/// acknowledgement: they depend on nothing it does, and it may order and execute slots (which
/// <see cref="PaxosNode"/> lets its Accepts skip waiting for).</description></item>
/// </list>
/// Batches are numbered in order and must be persisted in order. A host may take the next batch while the
/// previous one is being persisted (pipelining), as long as it keeps that order.
/// </summary>
public sealed class OutputBatch
{
    private List<Proposal>? _acceptedProposals;
    private List<ClientUpdate>? _pendingUpdates;
    private List<OrderedSlot>? _orderedSlots;
    private List<OutboundMessage>? _messages;
    private List<OutboundMessage>? _immediateMessages;
    private List<ClientReply>? _replies;
    private List<ReplicaId>? _snapshotOffers;
    private List<ReadRequestId>? _readsReady;
    private List<FailedRead>? _readsFailed;

    internal OutputBatch(long number) => Number = number;

    /// <summary>The batch's number: 1 for the first batch a replica makes, then increasing by one.</summary>
    public long Number { get; private set; }

    /// <summary>Empties the batch for reuse under a new number, keeping its lists' capacity.</summary>
    internal void Reset(long number)
    {
        Number = number;
        InstalledView = null;
        AttemptedView = null;
        RebuildStarted = false;
        RebuildCompleted = false;
        Snapshot = null;
        _acceptedProposals?.Clear();
        _pendingUpdates?.Clear();
        _orderedSlots?.Clear();
        _messages?.Clear();
        _immediateMessages?.Clear();
        _replies?.Clear();
        _snapshotOffers?.Clear();
        _readsReady?.Clear();
        _readsFailed?.Clear();
    }

    /// <summary>The view this replica installed (its new <c>Last_Installed</c>), if it installed one:
    /// persist and sync it. It is the replica's promise never to accept a Proposal of another view.</summary>
    public ViewNumber? InstalledView { get; internal set; }

    /// <summary>The highest view this replica tried to install (its new <c>Last_Attempted</c>), if it rose:
    /// persist and sync it. Its View_Change and its answers to a rebuilding peer report it, and a peer that
    /// lost its disk relies on those reports never going down.</summary>
    public ViewNumber? AttemptedView { get; internal set; }

    /// <summary>Set when this replica starts rebuilding lost state from its peers: persist and sync the fact,
    /// so that a crash during the rebuild restarts it still rebuilding (docs/protocol-notes.md, "Rebuilding a lost
    /// disk").</summary>
    public bool RebuildStarted { get; internal set; }

    /// <summary>Set when the rebuild is complete and the replica votes again: persist and sync the fact.</summary>
    public bool RebuildCompleted { get; internal set; }

    /// <summary>A snapshot the replica took at the end of this step, if it took one. It is not part of this batch's
    /// durable state: no message waits for it. Once the batch is durable, the host makes the snapshot durable at its own
    /// pace (<c>ISnapshotStorage.WriteSnapshot</c>), disposes its executor capture, and reports it with
    /// <c>PaxosReplica.AcknowledgeSnapshot</c>; the replica takes no other snapshot meanwhile. A host that keeps no
    /// snapshots disposes the capture and never acknowledges it.</summary>
    public TakenSnapshot? Snapshot { get; internal set; }

    /// <summary>Proposals this replica accepted (or, as leader, made): persist and sync them. Apply them
    /// in this order when recovering; a later one for the same slot in a higher view replaces an earlier one.</summary>
    public IReadOnlyList<Proposal> AcceptedProposals => (IReadOnlyList<Proposal>?)_acceptedProposals ?? [];

    /// <summary>Updates of local clients this replica took responsibility for (PfSB's
    /// <c>Pending_Updates</c>): persist and sync them. A later one of the same client replaces an earlier one.</summary>
    public IReadOnlyList<ClientUpdate> PendingUpdates => (IReadOnlyList<ClientUpdate>?)_pendingUpdates ?? [];

    /// <summary>Slots ordered and executed in this step, in sequence order. They may be written without a sync.</summary>
    public IReadOnlyList<OrderedSlot> OrderedSlots => (IReadOnlyList<OrderedSlot>?)_orderedSlots ?? [];

    /// <summary>Messages to send after the durable state above is on disk.</summary>
    public IReadOnlyList<OutboundMessage> Messages => (IReadOnlyList<OutboundMessage>?)_messages ?? [];

    /// <summary>Messages that may be sent at once, before this batch is persisted: they promise nothing that
    /// depends on it.</summary>
    public IReadOnlyList<OutboundMessage> ImmediateMessages => (IReadOnlyList<OutboundMessage>?)_immediateMessages ?? [];

    /// <summary>Peers that asked for slots this replica has released (covered by its snapshots): the host offers each its
    /// newest durable snapshot, by state transfer. Like immediate messages, offers promise nothing about this batch.</summary>
    public IReadOnlyList<ReplicaId> SnapshotOffers => (IReadOnlyList<ReplicaId>?)_snapshotOffers ?? [];

    /// <summary>Local linearizable reads (<see cref="PaxosReplica.RequestRead"/>) that may be served now: the replica has
    /// executed through each one's read index. The host runs each query against the executor when it takes the batch, so
    /// the executor reflects at least that index (it may reflect more, which linearizability allows). Like replies, they
    /// depend on nothing this batch persists.</summary>
    public IReadOnlyList<ReadRequestId> ReadsReady => (IReadOnlyList<ReadRequestId>?)_readsReady ?? [];

    /// <summary>Local linearizable reads the replica gave up on, with the reason.</summary>
    public IReadOnlyList<FailedRead> ReadsFailed => (IReadOnlyList<FailedRead>?)_readsFailed ?? [];

    /// <summary>Answers for local clients.</summary>
    public IReadOnlyList<ClientReply> Replies => (IReadOnlyList<ClientReply>?)_replies ?? [];

    /// <summary>Whether the batch holds state that must be fsynced before its messages are sent.</summary>
    public bool RequiresSync =>
        InstalledView.HasValue || AttemptedView.HasValue || RebuildStarted || RebuildCompleted || _acceptedProposals is { Count: > 0 } || _pendingUpdates is { Count: > 0 };

    /// <summary>Whether the batch holds nothing at all.</summary>
    public bool IsEmpty =>
        !RequiresSync && Snapshot is null && _orderedSlots is not { Count: > 0 } && _messages is not { Count: > 0 }
        && _immediateMessages is not { Count: > 0 } && _replies is not { Count: > 0 } && _snapshotOffers is not { Count: > 0 }
        && _readsReady is not { Count: > 0 } && _readsFailed is not { Count: > 0 };

    /// <summary>
    /// A stable, multi-line description of the batch in the order its host works through it, for logs and golden
    /// tests: the number, then (each only when not empty) the messages sent before persisting, the replies, what is
    /// persisted and whether it is synced, and the messages sent after. For example:
    /// <code>
    /// batch 7
    ///   send now 1->* Proposal v=2 seq=3 early [c4#1]
    ///   reply c1#1 executed at 1
    ///   persist, sync: view=2 attempted=2 proposals=[v2 seq=1..2 c1#1 c2#1] pending=[c3#1] ordered=1..2
    ///   then send 1->* Accept v=2 seq=1..2
    /// </code>
    /// An empty batch is <c>batch 7 (empty)</c>. Lines are separated by <c>\n</c>, with no trailing newline.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"batch {Number}");
        if (IsEmpty)
        {
            return text.Append(" (empty)").ToString();
        }

        AppendMessages(text, "send now", ImmediateMessages);
        foreach (var reply in Replies)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  reply c{reply.ClientId}#{reply.Timestamp} ");
            text.Append(reply.Status switch
            {
                ReplyStatus.Executed => string.Create(CultureInfo.InvariantCulture, $"executed at {reply.Sequence}"),
                ReplyStatus.Expired when reply.Sequence != SequenceNumber.None => string.Create(CultureInfo.InvariantCulture, $"Expired at {reply.Sequence}"),
                ReplyStatus.OutOfOrder or ReplyStatus.Rejected => string.Create(CultureInfo.InvariantCulture, $"{reply.Status} at {reply.Sequence}"),
                _ => reply.Status.ToString(),
            });
        }

        foreach (var read in ReadsReady)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  read r{read} ready");
        }

        foreach (var read in ReadsFailed)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  read r{read.Id} failed {read.Reason}");
        }

        AppendPersisted(text);
        AppendMessages(text, "then send", Messages);
        if (Snapshot is { } snapshot)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  snapshot at {snapshot.State.Sequence} ({snapshot.State.Clients.Count} clients)");
        }

        foreach (var peer in SnapshotOffers)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  offer snapshot to {peer}");
        }

        return text.ToString();
    }

    private void AppendPersisted(StringBuilder text)
    {
        if (!RequiresSync && OrderedSlots.Count == 0)
        {
            return;
        }

        // The order of the fields is fixed, and every list keeps the batch's own order: the text never depends on
        // hashing or culture.
        text.Append(RequiresSync ? "\n  persist, sync:" : "\n  persist, no sync:");
        if (InstalledView is { } view)
        {
            text.Append(CultureInfo.InvariantCulture, $" view={view}");
        }

        if (AttemptedView is { } attempted)
        {
            text.Append(CultureInfo.InvariantCulture, $" attempted={attempted}");
        }

        if (RebuildStarted)
        {
            text.Append(" rebuild=started");
        }

        if (RebuildCompleted)
        {
            text.Append(" rebuild=completed");
        }

        if (AcceptedProposals.Count > 0)
        {
            text.Append(" proposals=[");
            for (var i = 0; i < AcceptedProposals.Count; i++)
            {
                var proposal = AcceptedProposals[i];
                text.Append(i > 0 ? "; v" : "v").Append(CultureInfo.InvariantCulture, $"{proposal.View} seq={proposal.FirstSequence}");
                if (proposal.LastSequence != proposal.FirstSequence)
                {
                    text.Append(CultureInfo.InvariantCulture, $"..{proposal.LastSequence}");
                }

                AppendUpdates(text, proposal.Updates, spaceFirst: true);
            }

            text.Append(']');
        }

        if (PendingUpdates.Count > 0)
        {
            text.Append(" pending=[");
            AppendUpdates(text, PendingUpdates, spaceFirst: false);
            text.Append(']');
        }

        AppendOrdered(text);
    }

    /// <summary>Ordered slots as runs of consecutive sequence numbers: <c>ordered=1..3,5</c>.</summary>
    private void AppendOrdered(StringBuilder text)
    {
        var slots = OrderedSlots;
        for (var i = 0; i < slots.Count;)
        {
            text.Append(i == 0 ? " ordered=" : ",");
            var first = slots[i].Sequence.Value;
            var last = first;
            while (++i < slots.Count && slots[i].Sequence.Value == last + 1)
            {
                last++;
            }

            text.Append(last == first
                ? first.ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{first}..{last}"));
        }
    }

    /// <summary>Updates separated by spaces, the first eight only (<c>+N</c> for the rest), as the messages describe
    /// theirs; with <paramref name="spaceFirst"/>, the first is preceded by a space too.</summary>
    private static void AppendUpdates(StringBuilder text, IReadOnlyList<ClientUpdate> updates, bool spaceFirst)
    {
        const int MaxShown = 8;
        for (var i = 0; i < updates.Count && i < MaxShown; i++)
        {
            if (i > 0 || spaceFirst)
            {
                text.Append(' ');
            }

            text.Append(updates[i]);
        }

        if (updates.Count > MaxShown)
        {
            text.Append(CultureInfo.InvariantCulture, $" +{updates.Count - MaxShown}");
        }
    }

    private static void AppendMessages(StringBuilder text, string label, IReadOnlyList<OutboundMessage> messages)
    {
        foreach (var message in messages)
        {
            text.Append("\n  ").Append(label).Append(' ').Append(message);
        }
    }

    internal void AddAcceptedProposal(Proposal proposal) => (_acceptedProposals ??= []).Add(proposal);

    internal void AddPendingUpdate(ClientUpdate update) => (_pendingUpdates ??= []).Add(update);

    internal void AddOrderedSlot(OrderedSlot slot) => (_orderedSlots ??= []).Add(slot);

    internal void AddMessage(OutboundMessage message) => (_messages ??= []).Add(message);

    internal void AddImmediateMessage(OutboundMessage message) => (_immediateMessages ??= []).Add(message);

    internal void AddReply(ClientReply reply) => (_replies ??= []).Add(reply);

    internal void AddReadReady(ReadRequestId read) => (_readsReady ??= []).Add(read);

    internal void AddReadFailed(FailedRead read) => (_readsFailed ??= []).Add(read);

    internal void AddSnapshotOffer(ReplicaId peer)
    {
        _snapshotOffers ??= [];
        if (!_snapshotOffers.Contains(peer))
        {
            _snapshotOffers.Add(peer);
        }
    }
}
