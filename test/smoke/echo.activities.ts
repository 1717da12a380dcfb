export async function shout(message: string): Promise<string> {
  return message.toUpperCase();
}
