using Paxos.Protocol;

namespace Paxos.Storage;

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
