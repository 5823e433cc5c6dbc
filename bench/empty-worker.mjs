// The baseline of the cold-start measure of `make bench`: an empty JavaScript worker.
export default {
  fetch() {
    return new Response("{}");
  },
};
