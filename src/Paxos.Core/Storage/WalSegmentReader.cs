using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Paxos.Storage;

/// <summary>
/// Reads a segment file through one pooled window, for recovery: records one after another, and the forward
/// searches of the tail. It does not own the file handle.
/// </summary>
internal sealed class WalSegmentReader : IDisposable
{
    /// <summary>The window; it must hold the largest record whole.</summary>
    public const int WindowBytes = 4 << 20;

    private readonly SafeFileHandle _handle;
    private byte[]? _window = ArrayPool<byte>.Shared.Rent(WindowBytes);
    private long _windowStart;
    private int _windowCount;

    public WalSegmentReader(SafeFileHandle handle)
    {
        _handle = handle;
        Length = RandomAccess.GetLength(handle);
    }

    /// <summary>The file's length when the reader was made.</summary>
    public long Length { get; }

    /// <summary>The <paramref name="count"/> bytes at <paramref name="offset"/>, or fewer where the file ends.
    /// The span is valid until the next call.</summary>
    public ReadOnlySpan<byte> Read(long offset, int count)
    {
        var window = _window ?? throw new ObjectDisposedException(nameof(WalSegmentReader));
        var available = (int)Math.Clamp(Length - offset, 0, Math.Min(count, WindowBytes));
        if (offset < _windowStart || offset + available > _windowStart + _windowCount)
        {
            Fill(window, offset);
        }

        return window.AsSpan((int)(offset - _windowStart), available);
    }

    public void Dispose()
    {
        if (_window is { } window)
        {
            _window = null;
            ArrayPool<byte>.Shared.Return(window);
        }
    }

    private void Fill(byte[] window, long offset)
    {
        var wanted = (int)Math.Clamp(Length - offset, 0, WindowBytes);
        var read = 0;
        while (read < wanted)
        {
            var count = RandomAccess.Read(_handle, window.AsSpan(read, wanted - read), offset + read);
            if (count == 0)
            {
                // The file shrank under us; the caller then sees a short span, as at the end of the file.
                break;
            }

            read += count;
        }

        _windowStart = offset;
        _windowCount = read;
    }
}
