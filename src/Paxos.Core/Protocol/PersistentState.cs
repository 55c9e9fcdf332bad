using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>The durable state a replica recovers from (TR Fig. 14; docs/protocol-notes.md, "Stable storage and
/// recovery").</summary>
public sealed class PersistentState
{
    /// <summary>The state of a replica that never ran.</summary>
    public static PersistentState Empty { get; } = new();

    /// <summary>The last view installed (<c>Last_Installed</c>), or <see cref="ViewNumber.None"/>.</summary>
    public ViewNumber LastInstalled { get; init; }

    /// <summary>The highest view the replica ever tried to install (<c>Last_Attempted</c>), or
    /// <see cref="ViewNumber.None"/>; at least <see cref="LastInstalled"/> in a consistent state. A replica
    /// that rebuilds lost state asks its peers for this value (docs/protocol-notes.md, "Rebuilding a lost disk").</summary>
    public ViewNumber LastAttempted { get; init; }

    /// <summary>The newest valid snapshot, or null: the replica restores the executor and the client table from it and
    /// replays only what the log holds after its sequence number (records at or below it are ignored).</summary>
    public StoredSnapshot? Snapshot { get; init; }

    /// <summary>Accepted Proposals, in the order they were accepted.</summary>
    public IReadOnlyList<Proposal> AcceptedProposals { get; init; } = [];

    /// <summary>Ordered slots, in the order they were written.</summary>
    public IReadOnlyList<OrderedSlot> OrderedSlots { get; init; } = [];

    /// <summary>Updates of local clients taken responsibility for, in the order they were written; a later
    /// one of the same client replaces an earlier one, and those already executed are dropped on recovery.</summary>
    public IReadOnlyList<ClientUpdate> PendingUpdates { get; init; } = [];

    /// <summary>Whether the replica was rebuilding lost state from its peers when it stopped, and must go on
    /// doing so before it votes again (<see cref="OutputBatch.RebuildStarted"/>).</summary>
    public bool RequiresRebuild { get; init; }

    /// <summary>Whether nothing was ever persisted.</summary>
    public bool IsEmpty =>
        Snapshot is null && LastInstalled == ViewNumber.None && AcceptedProposals.Count == 0 && OrderedSlots.Count == 0 && PendingUpdates.Count == 0;
}
