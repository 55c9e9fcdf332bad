using System.Globalization;
using System.Text;

namespace Paxos.Messages;

/// <summary>The kinds of message replicas exchange. The numeric values are the wire codes.</summary>
public enum MessageType : byte
{
    /// <summary><see cref="Paxos.Messages.ViewChange"/>.</summary>
    ViewChange = 1,

    /// <summary><see cref="Paxos.Messages.VcProof"/>.</summary>
    VcProof = 2,

    /// <summary><see cref="Paxos.Messages.Prepare"/>.</summary>
    Prepare = 3,

    /// <summary><see cref="Paxos.Messages.PrepareOk"/>.</summary>
    PrepareOk = 4,

    /// <summary><see cref="Paxos.Messages.PrepareReject"/>.</summary>
    PrepareReject = 5,

    /// <summary><see cref="Paxos.Messages.Proposal"/>.</summary>
    Proposal = 6,

    /// <summary><see cref="Paxos.Messages.Accept"/>.</summary>
    Accept = 7,

    /// <summary><see cref="Paxos.Messages.GloballyOrderedUpdate"/>.</summary>
    GloballyOrderedUpdate = 8,

    /// <summary><see cref="Paxos.Messages.ClientUpdateForward"/>.</summary>
    ClientUpdateForward = 9,

    /// <summary><see cref="Paxos.Messages.Alive"/>.</summary>
    Alive = 10,

    /// <summary><see cref="Paxos.Messages.CatchUpRequest"/>.</summary>
    CatchUpRequest = 11,

    /// <summary><see cref="Paxos.Messages.RebuildQuery"/>.</summary>
    RebuildQuery = 12,

    /// <summary><see cref="Paxos.Messages.RebuildReply"/>.</summary>
    RebuildReply = 13,

    /// <summary><see cref="Paxos.Messages.SnapshotChunk"/>.</summary>
    SnapshotChunk = 14,

    /// <summary><see cref="Paxos.Messages.SnapshotChunkRequest"/>.</summary>
    SnapshotChunkRequest = 15,

    /// <summary><see cref="Paxos.Messages.ReadConfirmRequest"/>.</summary>
    ReadConfirmRequest = 16,

    /// <summary><see cref="Paxos.Messages.ReadConfirm"/>.</summary>
    ReadConfirm = 17,

    /// <summary><see cref="Paxos.Messages.ReadIndexRequest"/>.</summary>
    ReadIndexRequest = 18,

    /// <summary><see cref="Paxos.Messages.ReadIndexReply"/>.</summary>
    ReadIndexReply = 19,
}

/// <summary>
/// A message between replicas. Messages are immutable, so one instance may be sent to many peers.
/// <see cref="object.ToString"/> gives a stable one-line description used in logs and transcripts,
/// for example <c>Proposal v=3 seq=17..18 [c1#4 c2#9]</c>.
/// </summary>
public abstract class PaxosMessage
{
    private protected PaxosMessage(ReplicaId sender) => Sender = sender;

    /// <summary>The replica that sent the message.</summary>
    public ReplicaId Sender { get; }

    /// <summary>The kind of message.</summary>
    public abstract MessageType Type { get; }

    /// <inheritdoc />
    public abstract override string ToString();

    private protected static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private protected static void AppendUpdates(StringBuilder text, IReadOnlyList<ClientUpdate> updates)
    {
        const int MaxShown = 8;
        text.Append(" [");
        for (var i = 0; i < updates.Count && i < MaxShown; i++)
        {
            if (i > 0)
            {
                text.Append(' ');
            }

            text.Append(updates[i]);
        }

        if (updates.Count > MaxShown)
        {
            text.Append(CultureInfo.InvariantCulture, $" +{updates.Count - MaxShown}");
        }

        text.Append(']');
    }
}

/// <summary>
/// PfSB's <c>View_Change</c>: a vote to install view <see cref="Attempted"/>. It promises nothing, so
/// it is never written to disk.
/// </summary>
public sealed class ViewChange : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public ViewChange(ReplicaId sender, ViewNumber attempted)
        : base(sender) => Attempted = attempted;

    /// <summary>The view the sender is trying to install (its <c>Last_Attempted</c>).</summary>
    public ViewNumber Attempted { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.ViewChange;

    /// <inheritdoc />
    public override string ToString() => Format($"ViewChange v={Attempted}");
}

/// <summary>
/// PfSB's <c>VC_Proof</c>: sent periodically by every replica so that one stuck in leader election can
/// join a view the others already installed.
/// </summary>
public sealed class VcProof : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public VcProof(ReplicaId sender, ViewNumber installed)
        : this(sender, installed, SequenceNumber.None)
    {
    }

    /// <summary>Creates the message, from a view's leader that reports the end of its constrained range.</summary>
    public VcProof(ReplicaId sender, ViewNumber installed, SequenceNumber constrainedThrough)
        : base(sender)
    {
        Installed = installed;
        ConstrainedThrough = constrainedThrough;
    }

    /// <summary>The sender's <c>Last_Installed</c>.</summary>
    public ViewNumber Installed { get; }

    /// <summary>From the view's leader once its Prepare phase completed: the highest slot that phase constrained
    /// (every slot a majority could have chosen before the view lies at or below it). A replica rebuilding lost
    /// state executes this far before it votes again; <see cref="SequenceNumber.None"/> from others.</summary>
    public SequenceNumber ConstrainedThrough { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.VcProof;

    /// <inheritdoc />
    public override string ToString() =>
        ConstrainedThrough == SequenceNumber.None ? Format($"VcProof v={Installed}") : Format($"VcProof v={Installed} constrained={ConstrainedThrough}");
}

/// <summary>
/// PfSB's <c>Prepare</c>: the leader of <see cref="View"/> starts its Prepare phase, which covers every
/// sequence number above <see cref="LocalAru"/> at once.
/// </summary>
public sealed class Prepare : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public Prepare(ReplicaId sender, ViewNumber view, SequenceNumber localAru)
        : base(sender)
    {
        View = view;
        LocalAru = localAru;
    }

    /// <summary>The view being prepared.</summary>
    public ViewNumber View { get; }

    /// <summary>The leader's <c>Local_Aru</c> when it sent this copy: everything up to it is ordered at the
    /// leader, so data lists report only the slots above it.</summary>
    public SequenceNumber LocalAru { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.Prepare;

    /// <inheritdoc />
    public override string ToString() => Format($"Prepare v={View} aru={LocalAru}");
}

/// <summary>
/// One entry of a Prepare_OK data list: for a slot above the leader's aru, either the ordered update
/// (<see cref="IsOrdered"/>) or the highest-view Proposal the sender accepted.
/// </summary>
/// <param name="Sequence">The slot.</param>
/// <param name="View">The view of the accepted Proposal; <see cref="ViewNumber.None"/> for an ordered entry.</param>
/// <param name="IsOrdered">Whether the entry is a <c>Globally_Ordered_Update</c> rather than a Proposal.</param>
/// <param name="Update">The update bound to the slot.</param>
public readonly record struct DataListEntry(SequenceNumber Sequence, ViewNumber View, bool IsOrdered, ClientUpdate Update);

/// <summary>
/// PfSB's <c>Prepare_OK</c>: the sender installs the view (a promise to accept no Proposal of any other
/// view) and reports its data list. A long data list is split into <see cref="PartCount"/> parts, each
/// within the message size limit, so that no message relies on IP fragmentation; the leader counts
/// the sender once it holds every part.
/// </summary>
public sealed class PrepareOk : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public PrepareOk(ReplicaId sender, ViewNumber view, int part, int partCount, IReadOnlyList<DataListEntry> entries)
        : this(sender, view, part, partCount, entries, rebuilding: false)
    {
    }

    /// <summary>Creates the message, saying whether the sender is rebuilding state it lost.</summary>
    public PrepareOk(ReplicaId sender, ViewNumber view, int part, int partCount, IReadOnlyList<DataListEntry> entries, bool rebuilding)
        : base(sender)
    {
        View = view;
        Part = part;
        PartCount = partCount;
        Entries = entries;
        Rebuilding = rebuilding;
    }

    /// <summary>Whether the sender is rebuilding state it lost with its disk. Its promise holds, but its data
    /// list may miss what it accepted before the loss, so the leader does not count it towards the replicas
    /// with intact state that a Prepare phase needs.</summary>
    public bool Rebuilding { get; }

    /// <summary>The view being prepared.</summary>
    public ViewNumber View { get; }

    /// <summary>Which part of the data list this is, from 0.</summary>
    public int Part { get; }

    /// <summary>How many parts the data list has; at least 1.</summary>
    public int PartCount { get; }

    /// <summary>This part's entries.</summary>
    public IReadOnlyList<DataListEntry> Entries { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.PrepareOk;

    /// <inheritdoc />
    public override string ToString() => Rebuilding
        ? Format($"PrepareOk v={View} part={Part + 1}/{PartCount} entries={Entries.Count} rebuilding")
        : Format($"PrepareOk v={View} part={Part + 1}/{PartCount} entries={Entries.Count}");
}

/// <summary>
/// The answer of a replica that is too far ahead of a preparing leader (PfSB TR §5.6, PSB-C's
/// <c>PREPARE_OK REJECT</c>): it reports its <c>Local_Aru</c> so the leader catches up first, then
/// prepares with a higher aru. This keeps every data list bounded.
/// </summary>
public sealed class PrepareReject : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public PrepareReject(ReplicaId sender, ViewNumber view, SequenceNumber localAru)
        : base(sender)
    {
        View = view;
        LocalAru = localAru;
    }

    /// <summary>The view being prepared.</summary>
    public ViewNumber View { get; }

    /// <summary>The sender's <c>Local_Aru</c>: the leader should catch up to it.</summary>
    public SequenceNumber LocalAru { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.PrepareReject;

    /// <inheritdoc />
    public override string ToString() => Format($"PrepareReject v={View} aru={LocalAru}");
}

/// <summary>
/// PfSB's <c>Proposal</c>, aggregated: the leader of <see cref="View"/> binds <see cref="Updates"/> to the
/// consecutive sequence numbers <see cref="FirstSequence"/>, <see cref="FirstSequence"/>+1, … (one update
/// per slot). The leader sends it only once it is on the leader's disk, so it also counts as the leader's
/// acceptance.
/// </summary>
public sealed class Proposal : PaxosMessage
{
    private readonly ClientUpdate[] _updates;

    /// <summary>Creates the message; it implies the leader's acceptance (the leader wrote it to disk first).</summary>
    /// <param name="sender">The leader of <paramref name="view"/>.</param>
    /// <param name="view">The view.</param>
    /// <param name="firstSequence">The slot of the first update.</param>
    /// <param name="updates">At least one update. The array is not copied: do not change it afterwards.</param>
    public Proposal(ReplicaId sender, ViewNumber view, SequenceNumber firstSequence, ClientUpdate[] updates)
        : this(sender, view, firstSequence, updates, impliesLeaderAcceptance: true)
    {
    }

    /// <summary>Creates the message.</summary>
    /// <param name="sender">The leader of <paramref name="view"/>.</param>
    /// <param name="view">The view.</param>
    /// <param name="firstSequence">The slot of the first update.</param>
    /// <param name="updates">At least one update. The array is not copied: do not change it afterwards.</param>
    /// <param name="impliesLeaderAcceptance">Whether the leader wrote the Proposal to disk before sending it, so
    /// that it counts as the leader's acceptance; false when the leader sends it first and acknowledges it with
    /// an explicit <see cref="Accept"/> once durable (<see cref="PaxosOptions.LeaderSendsAccept"/>).</param>
    public Proposal(ReplicaId sender, ViewNumber view, SequenceNumber firstSequence, ClientUpdate[] updates, bool impliesLeaderAcceptance)
        : base(sender)
    {
        ArgumentNullException.ThrowIfNull(updates);
        View = view;
        FirstSequence = firstSequence;
        _updates = updates;
        ImpliesLeaderAcceptance = impliesLeaderAcceptance;
    }

    /// <summary>Whether receiving the Proposal counts as the leader's acceptance of its slots.</summary>
    public bool ImpliesLeaderAcceptance { get; }

    /// <summary>The view the proposal belongs to.</summary>
    public ViewNumber View { get; }

    /// <summary>The slot of the first update.</summary>
    public SequenceNumber FirstSequence { get; }

    /// <summary>The slot of the last update.</summary>
    public SequenceNumber LastSequence => new(FirstSequence.Value + _updates.Length - 1);

    /// <summary>The updates, one per slot.</summary>
    public IReadOnlyList<ClientUpdate> Updates => _updates;

    internal ClientUpdate[] UpdateArray => _updates;

    /// <inheritdoc />
    public override MessageType Type => MessageType.Proposal;

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder(Format($"Proposal v={View} seq={FirstSequence}"));
        if (_updates.Length != 1)
        {
            text.Append(CultureInfo.InvariantCulture, $"..{LastSequence}");
        }

        if (!ImpliesLeaderAcceptance)
        {
            text.Append(" early");
        }

        AppendUpdates(text, _updates);
        return text.ToString();
    }
}

/// <summary>
/// PfSB's <c>Accept</c>, aggregated: the sender accepted (and wrote to disk) the Proposals of
/// <see cref="View"/> for every slot from <see cref="FirstSequence"/> to <see cref="LastSequence"/>.
/// It carries no update, because a leader makes at most one Proposal per (view, slot).
/// </summary>
public sealed class Accept : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public Accept(ReplicaId sender, ViewNumber view, SequenceNumber firstSequence, SequenceNumber lastSequence)
        : base(sender)
    {
        View = view;
        FirstSequence = firstSequence;
        LastSequence = lastSequence;
    }

    /// <summary>The view of the accepted Proposals.</summary>
    public ViewNumber View { get; }

    /// <summary>The first accepted slot.</summary>
    public SequenceNumber FirstSequence { get; }

    /// <summary>The last accepted slot (inclusive).</summary>
    public SequenceNumber LastSequence { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.Accept;

    /// <inheritdoc />
    public override string ToString() =>
        FirstSequence == LastSequence
            ? Format($"Accept v={View} seq={FirstSequence}")
            : Format($"Accept v={View} seq={FirstSequence}..{LastSequence}");
}

/// <summary>
/// PfSB's <c>Globally_Ordered_Update</c>, aggregated: final bindings of <see cref="Updates"/> to the
/// consecutive slots from <see cref="FirstSequence"/>. Reconciliation sends it to a replica that is
/// behind. An ordered binding is final, so it carries no view. An empty message answers a
/// <see cref="CatchUpRequest"/> the sender cannot serve.
/// </summary>
public sealed class GloballyOrderedUpdate : PaxosMessage
{
    private readonly ClientUpdate[] _updates;

    /// <summary>Creates the message.</summary>
    /// <param name="sender">The replica that knows the bindings are final.</param>
    /// <param name="firstSequence">The slot of the first update.</param>
    /// <param name="updates">The updates, one per slot; may be empty. Not copied.</param>
    public GloballyOrderedUpdate(ReplicaId sender, SequenceNumber firstSequence, ClientUpdate[] updates)
        : base(sender)
    {
        ArgumentNullException.ThrowIfNull(updates);
        FirstSequence = firstSequence;
        _updates = updates;
    }

    /// <summary>The slot of the first update.</summary>
    public SequenceNumber FirstSequence { get; }

    /// <summary>The updates, one per slot.</summary>
    public IReadOnlyList<ClientUpdate> Updates => _updates;

    internal ClientUpdate[] UpdateArray => _updates;

    /// <inheritdoc />
    public override MessageType Type => MessageType.GloballyOrderedUpdate;

    /// <inheritdoc />
    public override string ToString()
    {
        if (_updates.Length == 0)
        {
            return Format($"GloballyOrderedUpdate seq={FirstSequence} none");
        }

        var text = new StringBuilder(Format($"GloballyOrderedUpdate seq={FirstSequence}..{FirstSequence.Value + _updates.Length - 1}"));
        AppendUpdates(text, _updates);
        return text.ToString();
    }
}

/// <summary>
/// PfSB's <c>Client_Update</c> as a server-to-server message: the origin replica forwards updates of its
/// local clients, already written to its disk, to the leader it believes in.
/// </summary>
public sealed class ClientUpdateForward : PaxosMessage
{
    private readonly ClientUpdate[] _updates;

    /// <summary>Creates the message.</summary>
    public ClientUpdateForward(ReplicaId sender, ClientUpdate[] updates)
        : base(sender)
    {
        ArgumentNullException.ThrowIfNull(updates);
        _updates = updates;
    }

    /// <summary>The forwarded updates.</summary>
    public IReadOnlyList<ClientUpdate> Updates => _updates;

    internal ClientUpdate[] UpdateArray => _updates;

    /// <inheritdoc />
    public override MessageType Type => MessageType.ClientUpdateForward;

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder("ClientUpdateForward");
        AppendUpdates(text, _updates);
        return text.ToString();
    }
}

/// <summary>
/// PSB-C's <c>ALIVE</c>: every replica advertises its <c>Local_Aru</c> periodically, so a replica that
/// fell behind notices and catches up (anti-entropy, TR §5.6).
/// </summary>
public sealed class Alive : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public Alive(ReplicaId sender, SequenceNumber localAru, ViewNumber lastInstalled)
        : base(sender)
    {
        LocalAru = localAru;
        LastInstalled = lastInstalled;
    }

    /// <summary>The sender's <c>Local_Aru</c>.</summary>
    public SequenceNumber LocalAru { get; }

    /// <summary>The sender's <c>Last_Installed</c>.</summary>
    public ViewNumber LastInstalled { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.Alive;

    /// <inheritdoc />
    public override string ToString() => Format($"Alive aru={LocalAru} v={LastInstalled}");
}

/// <summary>
/// Reconciliation: asks a peer for the ordered updates of slots <see cref="FromSequence"/> to
/// <see cref="ToSequence"/>. The peer answers with <see cref="GloballyOrderedUpdate"/> messages.
/// </summary>
public sealed class CatchUpRequest : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public CatchUpRequest(ReplicaId sender, SequenceNumber fromSequence, SequenceNumber toSequence)
        : base(sender)
    {
        FromSequence = fromSequence;
        ToSequence = toSequence;
    }

    /// <summary>The first slot wanted (the requester's <c>Local_Aru</c> + 1).</summary>
    public SequenceNumber FromSequence { get; }

    /// <summary>The last slot wanted (inclusive).</summary>
    public SequenceNumber ToSequence { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.CatchUpRequest;

    /// <inheritdoc />
    public override string ToString() => Format($"CatchUpRequest seq={FromSequence}..{ToSequence}");
}

/// <summary>
/// Asked by a replica that lost its disk and rebuilds its state from its peers: what is the highest view each
/// of them ever tried to install? Only answers that echo <see cref="Nonce"/>, which is new for each start of a
/// rebuild, count: an older message (an <see cref="Alive"/> sent before the disk was lost) could report a
/// view lower than one the replica promised before it lost its disk.
/// </summary>
public sealed class RebuildQuery : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public RebuildQuery(ReplicaId sender, long nonce)
        : this(sender, nonce, ViewNumber.None)
    {
    }

    /// <summary>Creates the message, with the floor the answers so far gave.</summary>
    public RebuildQuery(ReplicaId sender, long nonce, ViewNumber floor)
        : base(sender)
    {
        Nonce = nonce;
        Floor = floor;
    }

    /// <summary>A random number, not negative, that the answers echo.</summary>
    public long Nonce { get; }

    /// <summary>Once known, the lowest view the sender may install (<see cref="ViewNumber.None"/> before). A
    /// regular leader of a lower view gives way to a view at least this high, or the sender could wait for a
    /// view change that never comes.</summary>
    public ViewNumber Floor { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.RebuildQuery;

    /// <inheritdoc />
    public override string ToString() => Floor == ViewNumber.None
        ? Format($"RebuildQuery nonce={Nonce:x}")
        : Format($"RebuildQuery nonce={Nonce:x} floor={Floor}");
}

/// <summary>
/// The answer to a <see cref="RebuildQuery"/>, from a replica whose state is intact (a replica that is itself
/// rebuilding does not answer). It leaves only once everything it reports is durable.
/// </summary>
public sealed class RebuildReply : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public RebuildReply(ReplicaId sender, long nonce, ViewNumber lastAttempted, ViewNumber lastInstalled, SequenceNumber leaderLastProposed)
        : base(sender)
    {
        Nonce = nonce;
        LastAttempted = lastAttempted;
        LastInstalled = lastInstalled;
        LeaderLastProposed = leaderLastProposed;
    }

    /// <summary>The query's nonce.</summary>
    public long Nonce { get; }

    /// <summary>The highest view the sender ever tried to install (durable <c>Last_Attempted</c>).</summary>
    public ViewNumber LastAttempted { get; }

    /// <summary>The sender's <c>Last_Installed</c>.</summary>
    public ViewNumber LastInstalled { get; }

    /// <summary>When the sender is the regular leader of <see cref="LastInstalled"/>: the highest slot it
    /// proposed or constrained in that view; otherwise <see cref="SequenceNumber.None"/>.</summary>
    public SequenceNumber LeaderLastProposed { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.RebuildReply;

    /// <inheritdoc />
    public override string ToString() => LeaderLastProposed == SequenceNumber.None
        ? Format($"RebuildReply nonce={Nonce:x} attempted={LastAttempted} installed={LastInstalled}")
        : Format($"RebuildReply nonce={Nonce:x} attempted={LastAttempted} installed={LastInstalled} leader-proposed={LeaderLastProposed}");
}

/// <summary>
/// A piece of a snapshot file, for state transfer: sent by a replica whose history no longer holds what a peer asked
/// to catch up on (the first piece, at offset 0, is the offer), and then in answer to each
/// <see cref="SnapshotChunkRequest"/>. The receiver appends pieces in order and verifies the whole file before it
/// installs it.
/// </summary>
public sealed class SnapshotChunk : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    /// <param name="sender">The replica sending its snapshot.</param>
    /// <param name="sequence">The snapshot's last sequence number, which names it.</param>
    /// <param name="totalBytes">The length of the whole snapshot file.</param>
    /// <param name="offset">Where <paramref name="data"/> starts in the file.</param>
    /// <param name="data">The bytes; not copied.</param>
    public SnapshotChunk(ReplicaId sender, SequenceNumber sequence, long totalBytes, long offset, ReadOnlyMemory<byte> data)
        : base(sender)
    {
        Sequence = sequence;
        TotalBytes = totalBytes;
        Offset = offset;
        Data = data;
    }

    /// <summary>The snapshot's last sequence number, which names it.</summary>
    public SequenceNumber Sequence { get; }

    /// <summary>The length of the whole snapshot file, in bytes.</summary>
    public long TotalBytes { get; }

    /// <summary>Where <see cref="Data"/> starts in the file.</summary>
    public long Offset { get; }

    /// <summary>The bytes of the file from <see cref="Offset"/>.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.SnapshotChunk;

    /// <inheritdoc />
    public override string ToString() => Format($"SnapshotChunk seq={Sequence} {Offset}+{Data.Length}/{TotalBytes}");
}

/// <summary>Asks the sender of a <see cref="SnapshotChunk"/> for the piece of the same snapshot that starts at
/// <see cref="Offset"/>: the receiver's way to pace the transfer (one piece in flight) and to resume it.</summary>
public sealed class SnapshotChunkRequest : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public SnapshotChunkRequest(ReplicaId sender, SequenceNumber sequence, long offset)
        : base(sender)
    {
        Sequence = sequence;
        Offset = offset;
    }

    /// <summary>The snapshot being received.</summary>
    public SequenceNumber Sequence { get; }

    /// <summary>The first byte wanted.</summary>
    public long Offset { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.SnapshotChunkRequest;

    /// <inheritdoc />
    public override string ToString() => Format($"SnapshotChunkRequest seq={Sequence} from={Offset}");
}

/// <summary>
/// Linearizable reads: the regular leader of <see cref="View"/> asks every peer whether it still follows it
/// (docs/protocol-notes.md, "Linearizable reads"). Reads registered up to confirmation round <see cref="Round"/> are
/// confirmed once a majority, the leader included, answers with a <see cref="ReadConfirm"/> of that round.
/// </summary>
public sealed class ReadConfirmRequest : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public ReadConfirmRequest(ReplicaId sender, ViewNumber view, long round)
        : base(sender)
    {
        View = view;
        Round = round;
    }

    /// <summary>The view the sender leads.</summary>
    public ViewNumber View { get; }

    /// <summary>The confirmation round, increasing within the view from 1.</summary>
    public long Round { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.ReadConfirmRequest;

    /// <inheritdoc />
    public override string ToString() => Format($"ReadConfirmRequest v={View} round={Round}");
}

/// <summary>A peer's answer to <see cref="ReadConfirmRequest"/>: it has installed <see cref="View"/> and follows its
/// leader, so it has not promised any later view (it sent no Prepare_OK for one). With read leases on, it also promises
/// not to vote for a later view for <see cref="LeaseTicks"/> more of its ticks.</summary>
public sealed class ReadConfirm : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public ReadConfirm(ReplicaId sender, ViewNumber view, long round, long leaseTicks = 0)
        : base(sender)
    {
        View = view;
        Round = round;
        LeaseTicks = leaseTicks;
    }

    /// <summary>The view the sender has installed and follows.</summary>
    public ViewNumber View { get; }

    /// <summary>The round it answers.</summary>
    public long Round { get; }

    /// <summary>How many of its own ticks, from when it sent this, the sender will not vote for a view after
    /// <see cref="View"/> (0: no promise, as when it grants no leases).</summary>
    public long LeaseTicks { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.ReadConfirm;

    /// <inheritdoc />
    public override string ToString() => Format($"ReadConfirm v={View} round={Round} lease={LeaseTicks}");
}

/// <summary>A non-leader asks the leader of <see cref="View"/> for a read index for its local read
/// <see cref="RequestId"/>; the leader answers with <see cref="ReadIndexReply"/> once a confirmation round covering the
/// request has a majority.</summary>
public sealed class ReadIndexRequest : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public ReadIndexRequest(ReplicaId sender, ViewNumber view, long requestId)
        : base(sender)
    {
        View = view;
        RequestId = requestId;
    }

    /// <summary>The view the sender follows.</summary>
    public ViewNumber View { get; }

    /// <summary>The sender's id for the read, echoed in the reply.</summary>
    public long RequestId { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.ReadIndexRequest;

    /// <inheritdoc />
    public override string ToString() => Format($"ReadIndexRequest v={View} read={RequestId}");
}

/// <summary>The leader's answer to <see cref="ReadIndexRequest"/>: every update acknowledged before the request reached
/// the leader is at or below <see cref="Index"/>, so the requester may serve the read once it has executed through it.</summary>
public sealed class ReadIndexReply : PaxosMessage
{
    /// <summary>Creates the message.</summary>
    public ReadIndexReply(ReplicaId sender, ViewNumber view, long requestId, SequenceNumber index)
        : base(sender)
    {
        View = view;
        RequestId = requestId;
        Index = index;
    }

    /// <summary>The view the sender leads.</summary>
    public ViewNumber View { get; }

    /// <summary>The requester's id for the read.</summary>
    public long RequestId { get; }

    /// <summary>The read index.</summary>
    public SequenceNumber Index { get; }

    /// <inheritdoc />
    public override MessageType Type => MessageType.ReadIndexReply;

    /// <inheritdoc />
    public override string ToString() => Format($"ReadIndexReply v={View} read={RequestId} index={Index}");
}
