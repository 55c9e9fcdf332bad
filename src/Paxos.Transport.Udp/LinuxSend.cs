using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Paxos.Transport.Udp;

/// <summary>
/// <c>sendto(…, MSG_DONTWAIT)</c> from libc, for Linux: it lets the socket block for receiving — the receive thread
/// then waits inside <c>recvfrom</c> itself, one system call per datagram instead of <c>poll</c> and
/// <c>recvfrom</c> — while every send still returns at once, as the replica's loop requires. .NET exposes no
/// per-call non-blocking flag, hence this one call. Other platforms keep a non-blocking socket and <c>poll</c>.
/// </summary>
internal static class LinuxSend
{
    private const int MsgDontWait = 0x40; // MSG_DONTWAIT on Linux, the same on every architecture.

    /// <summary>Sends <paramref name="datagram"/> to <paramref name="address"/> without waiting for buffer space.</summary>
    /// <returns>True when the kernel took the datagram; false when it refused it (a full buffer, say), with
    /// <paramref name="error"/> the errno.</returns>
    public static bool TrySend(SafeSocketHandle socket, ReadOnlySpan<byte> datagram, SocketAddress address, out int error)
    {
        var sockaddr = address.Buffer.Span[..address.Size];
        var sent = NativeMethods.SendTo(socket, ref MemoryMarshal.GetReference(datagram), (nuint)datagram.Length, MsgDontWait, ref MemoryMarshal.GetReference(sockaddr), (uint)sockaddr.Length);
        if (sent < 0)
        {
            error = Marshal.GetLastPInvokeError();
            return false;
        }

        error = 0;
        return true;
    }

    private static class NativeMethods
    {
        // ssize_t sendto(int sockfd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen);
        // The SafeHandle is kept alive (and its descriptor valid) for the duration of the call.
        [DllImport("libc", EntryPoint = "sendto", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern nint SendTo(SafeSocketHandle socket, ref byte buffer, nuint length, int flags, ref byte address, uint addressLength);
    }
}
