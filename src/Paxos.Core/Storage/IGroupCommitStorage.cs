using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// A storage that can write several batches with one sync (group commit) from a thread of its own: a host that finds
/// it runs its writes on a writer thread and hands it, in one call, every batch produced during the previous sync.
/// </summary>
public interface IGroupCommitStorage : IReplicaStorage
{
    /// <summary>Writes <paramref name="batches"/> in order and syncs once, at the end, if any of them requires it: the
    /// same durable state as persisting them one by one. Synchronous; called by one thread at a time.</summary>
    void PersistAll(ReadOnlySpan<OutputBatch> batches);

    /// <summary>What the storage counted (writes, fsyncs and their time, recovery).</summary>
    StorageCounters Counters { get; }

    /// <summary>Tells the storage which replica uses it, so that it refuses a directory recorded for another one.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The storage was built for another
    /// identity.</exception>
    void ExpectIdentity(ReplicaIdentity expected);
}
