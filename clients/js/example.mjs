// A small Chorus bot in Node: joins a room, greets it, answers "!ping" in chat with the measured
// round trip, echoes whispers back, and counts audio frames. Stays for the given seconds.
// usage: node example.mjs [ws://127.0.0.1:8080] [room] [seconds]
import WebSocket from 'ws';
import { ChorusClient } from 'chorus-client';

const [url = 'ws://127.0.0.1:8080', room = 'lobby', seconds = '30'] = process.argv.slice(2);
const client = new ChorusClient({
  url,
  room,
  user: 'node-bot',
  name: 'Node bot',
  WebSocket, // browsers have one built in; Node 20 takes the `ws` package's
  pingIntervalMs: 5000,
});

const audio = new Map(); // member id -> frames heard
client.on('state', ({ state }) => console.log(`state: ${state}`));
client.on('joined', (m) => console.log(`${m.name} joined as member ${m.member}`));
client.on('left', (m) => console.log(`member ${m.member} left (${m.reason})`));
client.on('chat', (m) => {
  console.log(`chat from ${m.from}: ${m.text}`);
  if (m.text === '!ping') client.chat(`pong: ${client.rtt?.toFixed(1)} ms round trip`);
});
client.on('whisper', (m) => client.whisper(m.from, `you whispered: ${m.text}`));
client.on('audio', ({ from }) => audio.set(from, (audio.get(from) || 0) + 1));
client.on('gap', (g) => console.log(`missed events (${g.reason}): member list resynced`));
client.on('error', (e) => console.log(`server says ${e.code}: ${e.message}`));

const welcome = await client.connect();
console.log(`joined ${room} as member ${welcome.member}; others: ${client.members.size}`);
client.chat('hello from node');
console.log(`rtt ${(await client.ping()).toFixed(2)} ms`);

setTimeout(() => {
  for (const [from, n] of audio) console.log(`heard ${n} audio frames from member ${from}`);
  client.close();
}, Number(seconds) * 1000);
