/**
 * The curated terminal commands a typing challenge asks for (the game's hacker fiction; printable ASCII only,
 * 20–60 characters so that a game lasts seconds, not minutes).
 */
export const TYPING_COMMANDS: readonly string[] = [
  'ssh -L 8080:localhost:80 ghost@10.0.0.7',
  'nmap -sS -p 1-65535 --open 192.168.1.0/24',
  'tail -f /var/log/auth.log | grep -i failed',
  'openssl rand -hex 32 > /tmp/session.key',
  'tar -czf loot.tar.gz ./vault && shred -u ./vault',
  'curl -s https://ghostnet.io/api | jq .status',
  'iptables -A INPUT -s 10.66.6.6 -j DROP',
  'chmod 600 ~/.ssh/id_ed25519 && ssh-add',
  'dig +short TXT _trace.ghostnet.io @1.1.1.1',
  'nc -lvnp 4444 -e /bin/sh',
  'scp -P 2222 payload.bin root@172.16.0.9:/tmp',
  'grep -rn "PRIVATE KEY" ./ --include=*.pem',
  'git clone --depth 1 git@darknet:ice/breaker.git',
  'find / -perm -4000 -type f 2>/dev/null',
  'echo "jack in" | base64 | rev > /dev/null',
  'kill -9 $(pgrep -f tracescan)',
  'watch -n 1 "netstat -tulpn | grep LISTEN"',
  'rsync -avz --delete ./mainframe/ ghost@vault:/srv',
  'dd if=/dev/urandom of=/dev/sdb bs=4M status=progress',
  'hashcat -m 1800 -a 0 shadow.txt rockyou.txt',
];
