using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// A storage that keeps snapshots: it makes the replica's snapshots durable, releases the log they cover, returns the
/// newest valid one at recovery (<see cref="PersistentState.Snapshot"/>), and moves snapshot files to and from peers in
/// chunks for state transfer. The bytes of a snapshot file are the same on every storage (<c>SnapshotFormat</c>),
/// so a file read here is installed there as it is.
/// </summary>
/// <remarks>
/// <see cref="WriteSnapshot"/> may run on a thread of its own, concurrently with the other members and with
/// <see cref="IReplicaStorage.PersistAsync"/>; every other member is called by the replica's thread.
/// </remarks>
public interface ISnapshotStorage : IReplicaStorage
{
    /// <summary>
    /// Makes a snapshot durable — written aside, checksummed, fsynced, then renamed into place — and keeps the two newest
    /// snapshots, deleting older ones. Then it releases the log that the older of the two covers: a log record may go once
    /// it is older than <see cref="TakenSnapshot.BatchNumber"/> of that snapshot and its slot (if any) is at or below that
    /// snapshot's sequence number; so a damaged newest snapshot can still be replaced by the older one and the log after
    /// it. Called only once the snapshot's batch is durable.
    /// </summary>
    /// <param name="snapshot">The snapshot; its executor capture is written here and disposed by the caller.</param>
    void WriteSnapshot(TakenSnapshot snapshot);

    /// <summary>The newest durable snapshot: its sequence number and its file's length in bytes; null when there is none.</summary>
    (SequenceNumber Sequence, long Length)? NewestSnapshot { get; }

    /// <summary>Reads bytes of the durable snapshot file of <paramref name="sequence"/>, for a peer.</summary>
    /// <returns>The bytes read: fewer than asked only at the end of the file; -1 when that snapshot is no longer kept.</returns>
    int ReadSnapshot(SequenceNumber sequence, long offset, Span<byte> destination);

    /// <summary>How many bytes of the snapshot of <paramref name="sequence"/> being received from a peer are held (0 when
    /// none, or when another snapshot was being received: only one is received at a time).</summary>
    long ReceivedBytes(SequenceNumber sequence);

    /// <summary>Adds bytes of a snapshot file being received, at <paramref name="offset"/>, which must equal
    /// <see cref="ReceivedBytes"/> (a receive of another snapshot is abandoned and starts again at 0).</summary>
    /// <exception cref="ArgumentException">The offset is not where the received bytes end.</exception>
    void AppendReceived(SequenceNumber sequence, long offset, ReadOnlySpan<byte> data);

    /// <summary>Verifies the received snapshot end to end (its length, format and checksum), makes it durable as the newest
    /// snapshot, and returns it for the replica to install. A snapshot that does not verify is discarded.</summary>
    /// <exception cref="InvalidDataException">The received bytes are not a valid snapshot of that sequence number.</exception>
    StoredSnapshot CompleteReceived(SequenceNumber sequence, long length);
}
