namespace Paxos.Storage;

/// <summary>
/// The storage found damage it must not repair by itself: a record that fails its checksum but is followed
/// by data that was made durable after it, a damaged segment other than the last, a missing segment, or a
/// damaged <c>view</c> file. A torn write at the end of the log is not damage: it is cut off silently
/// (with a warning). Recovering from this needs an operator: restore the directory, or wipe it and let the
/// replica rejoin as one that lost its disk (<see cref="PaxosOptions.RebuildFromPeers"/>; docs/operations.md).
/// </summary>
public sealed class StorageCorruptionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageCorruptionException()
        : this("The storage is corrupt.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    public StorageCorruptionException(string message)
        : this(message, string.Empty, 0)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public StorageCorruptionException(string message, Exception innerException)
        : base(message, innerException)
    {
        FilePath = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong; it names the file and the offset.</param>
    /// <param name="filePath">The damaged (or missing) file.</param>
    /// <param name="offset">The byte offset in <paramref name="filePath"/> where the damage starts.</param>
    public StorageCorruptionException(string message, string filePath, long offset)
        : base(message)
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>The damaged (or missing) file.</summary>
    public string FilePath { get; }

    /// <summary>The byte offset in <see cref="FilePath"/> where the damage starts: the first byte of the record
    /// that failed its check.</summary>
    public long Offset { get; }
}
