namespace Paxos;

/// <summary>
/// A replica's stable storage: the installed view, the Proposals it accepted, the updates it ordered and
/// the local updates it is responsible for. <see cref="PaxosNode"/> persists every
/// <see cref="OutputBatch"/> here before it sends the batch's messages.
/// </summary>
/// <remarks>
/// The contract: when <see cref="PersistAsync"/> completes for a batch whose
/// <see cref="OutputBatch.RequiresSync"/> is set, that batch and every earlier one are durable — they will
/// be returned by <see cref="LoadAsync"/> after any crash. Batches arrive in order, one at a time.
/// </remarks>
public interface IReplicaStorage
{
    /// <summary>Reads everything persisted so far, to rebuild a replica after a restart. Returns
    /// <see cref="PersistentState.Empty"/> on first boot. It must return only state that is durable: the
    /// replica treats every recovered Proposal as its own acceptance, a promise it may not forget.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Persists a batch's durable state (and syncs it when <see cref="OutputBatch.RequiresSync"/> is set).</summary>
    /// <param name="batch">The batch, taken from <see cref="PaxosReplica.TakeOutput"/>.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write may or may not have reached the disk.</param>
    ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default);
}

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
        LastInstalled == ViewNumber.None && AcceptedProposals.Count == 0 && OrderedSlots.Count == 0 && PendingUpdates.Count == 0;
}
