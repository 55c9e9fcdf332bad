namespace Paxos;

/// <summary>
/// An executor whose state can be written to a snapshot and read back, so that the replica can release the history
/// a snapshot covers (its memory, its log and its restart time stay bounded) and bring a replica that is too far
/// behind up to date by sending it a snapshot. An executor that does not implement it keeps the whole history.
/// </summary>
/// <remarks>
/// <para>Both members run on the replica's thread, between two <see cref="IExecutor.Execute"/> calls, so they see
/// the state after one exact sequence number. <see cref="CaptureSnapshot"/> must be quick — ordering waits for it —
/// and must not copy a large state: capture an immutable version (a persistent or copy-on-write structure, a
/// database's read snapshot) and write it in <see cref="IExecutorSnapshot.WriteTo"/>, which runs on another thread
/// while ordering goes on.</para>
/// <para>Every replica must produce the same state from the same updates, so a snapshot written by one replica and
/// restored by another must leave them equal. The bytes are the executor's own format: the library checksums and
/// versions the file around them but never reads them.</para>
/// </remarks>
public interface ISnapshotExecutor : IExecutor
{
    /// <summary>Captures the state as it is now, after the last executed update, for writing later.</summary>
    /// <returns>The capture; the library writes it once and disposes it.</returns>
    IExecutorSnapshot CaptureSnapshot();

    /// <summary>Replaces the whole state with the one <paramref name="snapshot"/> holds, as written by
    /// <see cref="IExecutorSnapshot.WriteTo"/> on this or another replica. Updates after the snapshot's sequence
    /// number follow through <see cref="IExecutor.Execute"/>.</summary>
    /// <param name="snapshot">The executor's bytes, already verified against their checksum; read to its end.</param>
    void RestoreSnapshot(Stream snapshot);
}

/// <summary>An executor's state captured at one sequence number, written once and then disposed.</summary>
public interface IExecutorSnapshot : IDisposable
{
    /// <summary>Writes the captured state. Runs on a thread of the host's while the executor goes on executing: it
    /// must read only the capture.</summary>
    /// <param name="destination">Where the bytes go; written in order, never sought.</param>
    void WriteTo(Stream destination);
}
