using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>Why a replica ignored an incoming message. Dropping is normal operation, never an error.</summary>
public enum DropReason
{
    /// <summary>The message was not dropped.</summary>
    None = 0,

    /// <summary>The message came from this replica itself (a loopback copy).</summary>
    FromSelf,

    /// <summary>The sender is not a member of the cluster.</summary>
    UnknownSender,

    /// <summary>The message's fields are out of range or inconsistent.</summary>
    Malformed,

    /// <summary>The replica is not in a state that takes this message (TR Fig. 4).</summary>
    WrongState,

    /// <summary>A View_Change arrived while the Progress_Timer runs: the replica has preinstalled or
    /// installed a view and does not let another replica pull it away (TR §5.3).</summary>
    ProgressTimerRunning,

    /// <summary>The message names a view other than the one it must match (TR Fig. 4).</summary>
    StaleView,

    /// <summary>An Accept arrived before its Proposal (TR Fig. 4 F); the leader's retransmission recovers it.</summary>
    NoProposal,

    /// <summary>A Proposal lies beyond the receive window; the replica catches up instead.</summary>
    OutsideWindow,

    /// <summary>The message repeats one already applied.</summary>
    Duplicate,

    /// <summary>The leader's Update_Queue is full; the origin replica forwards the update again later.</summary>
    QueueFull,

    /// <summary>The replica is rebuilding lost state from its peers: it sends no Prepare_OK below its view floor
    /// or before it knows it, answers no rebuild query and never prepares a view as leader
    /// (docs/protocol-notes.md, "Rebuilding a lost disk").</summary>
    Rebuilding,

    /// <summary>A peer reported a slot ordered with a different update than this replica holds ordered (in the
    /// crash-fault model this cannot happen; it is also logged as an error), or a Proposal of an older view's
    /// leader binds such a slot to another update (it has not heard of the choice; no Accept is sent).</summary>
    ConflictingOrder,

    /// <summary>An answer to a rebuild query that does not echo the nonce of this start's query: it may have been
    /// sent before the disk was lost, so it says nothing about what the replica may have promised.</summary>
    StaleAnswer,

    /// <summary>A Prepare for a later view reached a replica that holds its vote after starting with read leases on: it
    /// may have promised, before it restarted, not to vote for a later view for a while (docs/protocol-notes.md,
    /// "Read leases").</summary>
    VoteHeld,
}

/// <summary>Bounds on numbers in messages, so that no peer can make a counter overflow.</summary>
public static class ProtocolLimits
{
    /// <summary>The highest view a message may name (2^62): views grow by one per election, so a real
    /// cluster never comes near it.</summary>
    public const long MaxView = 1L << 62;

    /// <summary>The highest sequence number a message may name (2^62).</summary>
    public const long MaxSequence = 1L << 62;

    /// <summary>Whether every view and sequence number in <paramref name="message"/> is within bounds.</summary>
    public static bool AreNumbersInRange(PaxosMessage message) => message switch
    {
        ViewChange m => IsView(m.Attempted),
        VcProof m => IsView(m.Installed) && IsSequence(m.ConstrainedThrough),
        RebuildQuery m => IsView(m.Floor),
        RebuildReply m => IsView(m.LastAttempted) && IsView(m.LastInstalled) && IsSequence(m.LeaderLastProposed),
        Prepare m => IsView(m.View) && IsSequence(m.LocalAru),
        PrepareOk m => IsView(m.View) && AreEntriesInRange(m.Entries),
        PrepareReject m => IsView(m.View) && IsSequence(m.LocalAru),
        Proposal m => IsView(m.View) && IsSequence(m.FirstSequence) && m.FirstSequence.Value <= MaxSequence - m.Updates.Count,
        Accept m => IsView(m.View) && IsSequence(m.FirstSequence) && IsSequence(m.LastSequence),
        GloballyOrderedUpdate m => IsSequence(m.FirstSequence) && m.FirstSequence.Value <= MaxSequence - m.Updates.Count,
        Alive m => IsView(m.LastInstalled) && IsSequence(m.LocalAru),
        CatchUpRequest m => IsSequence(m.FromSequence) && IsSequence(m.ToSequence),
        SnapshotChunk m => IsSequence(m.Sequence) && m.Offset >= 0 && m.Offset <= m.TotalBytes - m.Data.Length,
        SnapshotChunkRequest m => IsSequence(m.Sequence) && m.Offset >= 0,
        ReadConfirmRequest m => IsView(m.View) && m.Round >= 0,
        ReadConfirm m => IsView(m.View) && m.Round >= 0 && m.LeaseTicks >= 0,
        ReadIndexRequest m => IsView(m.View) && m.RequestId >= 0,
        ReadIndexReply m => IsView(m.View) && m.RequestId >= 0 && IsSequence(m.Index),
        _ => true,
    };

    private static bool IsView(ViewNumber view) => view.Value is >= 0 and <= MaxView;

    private static bool IsSequence(SequenceNumber sequence) => sequence.Value is >= 0 and <= MaxSequence;

    private static bool AreEntriesInRange(IReadOnlyList<DataListEntry> entries)
    {
        for (var i = 0; i < entries.Count; i++)
        {
            if (!IsView(entries[i].View) || !IsSequence(entries[i].Sequence))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The conflict checks of TR Fig. 4: run on every message before anything else.</summary>
internal static class ConflictChecks
{
    /// <summary>View_Change: drop if from self, not in leader election, the Progress_Timer runs, or the
    /// attempted view is not above Last_Installed.</summary>
    public static DropReason ViewChange(ReplicaId self, ReplicaState state, bool progressTimerRunning, ViewNumber lastInstalled, ViewChange message) =>
        message.Sender == self ? DropReason.FromSelf
        : state != ReplicaState.LeaderElection ? DropReason.WrongState
        : progressTimerRunning ? DropReason.ProgressTimerRunning
        : message.Attempted <= lastInstalled ? DropReason.StaleView
        : DropReason.None;

    /// <summary>VC_Proof: drop if from self or not in leader election.</summary>
    public static DropReason VcProof(ReplicaId self, ReplicaState state, VcProof message) =>
        message.Sender == self ? DropReason.FromSelf
        : state != ReplicaState.LeaderElection ? DropReason.WrongState
        : DropReason.None;

    /// <summary>Prepare: drop if from self or its view is not Last_Attempted.</summary>
    public static DropReason Prepare(ReplicaId self, ViewNumber lastAttempted, Prepare message) =>
        message.Sender == self ? DropReason.FromSelf
        : message.View != lastAttempted ? DropReason.StaleView
        : DropReason.None;

    /// <summary>Prepare_OK: drop if not in leader election or its view is not Last_Attempted.</summary>
    public static DropReason PrepareOk(ReplicaState state, ViewNumber lastAttempted, PrepareOk message) =>
        state != ReplicaState.LeaderElection ? DropReason.WrongState
        : message.View != lastAttempted ? DropReason.StaleView
        : DropReason.None;

    /// <summary>Proposal: drop if from self, not a regular non-leader, or its view is not Last_Installed.</summary>
    public static DropReason Proposal(ReplicaId self, ReplicaState state, ViewNumber lastInstalled, Proposal message) =>
        message.Sender == self ? DropReason.FromSelf
        : state != ReplicaState.RegularNonLeader ? DropReason.WrongState
        : message.View != lastInstalled ? DropReason.StaleView
        : DropReason.None;

    /// <summary>Accept: drop if from self or its view is not Last_Installed. (The third check, that the slot
    /// holds a Proposal of the same view, is made per slot: <see cref="DropReason.NoProposal"/>.)</summary>
    public static DropReason Accept(ReplicaId self, ViewNumber lastInstalled, Accept message) =>
        message.Sender == self ? DropReason.FromSelf
        : message.View != lastInstalled ? DropReason.StaleView
        : DropReason.None;
}
