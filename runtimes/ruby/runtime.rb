# lamina's Ruby runtime client: loads the handler, then loops on the Runtime API 2018-06-01.
#
# Installed at /var/runtime/runtime.rb and started by /var/runtime/bootstrap; standard library only. It
# behaves like AWS's Ruby runtime: handler "file.method" (a top-level method) or "file.Module::Class.method",
# called with event: and context: keywords; init failures go to /runtime/init/error as "Init<Class>",
# handler exceptions to /runtime/invocation/<id>/error as "Function<Class>", each with errorMessage,
# errorType and stackTrace.
require "json"
require "net/http"

$stdout.sync = true
$stderr.sync = true

module LaminaRuntime
  API = "2018-06-01"

  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name, :function_name,
                :memory_limit_in_mb, :function_version, :identity, :client_context, :deadline_ms, :tenant_id

    def initialize(headers)
      @aws_request_id = headers["lambda-runtime-aws-request-id"]
      @invoked_function_arn = headers["lambda-runtime-invoked-function-arn"]
      @deadline_ms = headers["lambda-runtime-deadline-ms"].to_i
      @log_group_name = ENV["AWS_LAMBDA_LOG_GROUP_NAME"]
      @log_stream_name = ENV["AWS_LAMBDA_LOG_STREAM_NAME"]
      @function_name = ENV["AWS_LAMBDA_FUNCTION_NAME"]
      @memory_limit_in_mb = ENV["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
      @function_version = ENV["AWS_LAMBDA_FUNCTION_VERSION"]
      @identity = parse(headers["lambda-runtime-cognito-identity"])
      @client_context = parse(headers["lambda-runtime-client-context"])
      @tenant_id = headers["lambda-runtime-aws-tenant-id"]
    end

    def get_remaining_time_in_millis
      [@deadline_ms - (Time.now.to_f * 1000).to_i, 0].max
    end

    private

    def parse(text)
      text.nil? || text.empty? ? nil : JSON.parse(text)
    rescue JSON::ParserError
      nil
    end
  end

  # A handler that could not be loaded: reported at init with Lambda's Init<Class> error type.
  class InitFailure < StandardError
    attr_reader :error_type, :trace

    def initialize(error_type, message, trace = [])
      super(message)
      @error_type = error_type
      @trace = trace
    end
  end

  class Handler
    def initialize(spec, task_root)
      file, _, rest = spec.rpartition(".")
      raise InitFailure.new("Init<ArgumentError>", "Bad handler #{spec}: expected file.method") if file.empty?
      if file.include?("::") # file.Module::Class.method
        file, _, constant = file.partition(".")
        @receiver_name = constant
      end
      @method = rest
      begin
        require File.join(task_root, file)
      rescue ScriptError, StandardError => e
        raise InitFailure.new("Init<#{e.class}>", e.message, e.backtrace || [])
      end
      @receiver = @receiver_name ? Object.const_get(@receiver_name) : Object.new
      unless @receiver.respond_to?(@method, true)
        where = @receiver_name || "the top level of #{file}"
        raise InitFailure.new("Init<NameError>", "undefined method `#{@method}' in #{where}")
      end
    rescue NameError => e
      raise InitFailure.new("Init<NameError>", e.message, e.backtrace || [])
    end

    def call(event, context)
      @receiver.send(@method, event: event, context: context)
    end
  end

  class Client
    def initialize(address)
      host, port = address.split(":")
      @http = Net::HTTP.new(host, port.to_i)
      @http.read_timeout = nil
      @http.keep_alive_timeout = 3600
      @http.start
    end

    def next_invocation
      res = @http.request(Net::HTTP::Get.new("/#{API}/runtime/invocation/next"))
      headers = res.each_header.to_h
      [headers, res.body || ""]
    end

    def post(path, body, headers = {})
      req = Net::HTTP::Post.new(path, headers.merge("Content-Type" => "application/json"))
      req.body = body
      @http.request(req)
    end

    def respond(request_id, body)
      post("/#{API}/runtime/invocation/#{request_id}/response", body)
    end

    def error(path, error_type, message, trace)
      body = JSON.generate({ "errorMessage" => message.to_s, "errorType" => error_type, "stackTrace" => trace })
      post(path, body, "Lambda-Runtime-Function-Error-Type" => error_type)
    end
  end

  def self.run
    client = Client.new(ENV.fetch("AWS_LAMBDA_RUNTIME_API"))
    begin
      handler = Handler.new(ENV.fetch("_HANDLER", ""), ENV.fetch("LAMBDA_TASK_ROOT", "/var/task"))
    rescue InitFailure => e
      warn "Init error: #{e.error_type}: #{e.message}"
      client.error("/#{API}/runtime/init/error", e.error_type, e.message, e.trace)
      exit 1
    end
    loop do
      headers, body = client.next_invocation
      request_id = headers["lambda-runtime-aws-request-id"]
      ENV["_X_AMZN_TRACE_ID"] = headers["lambda-runtime-trace-id"] if headers["lambda-runtime-trace-id"]
      begin
        event = body.empty? ? nil : JSON.parse(body)
        result = handler.call(event, LambdaContext.new(headers))
        client.respond(request_id, JSON.generate(result))
      rescue StandardError, ScriptError => e
        type = "Function<#{e.class}>"
        warn JSON.generate({ "errorMessage" => e.message, "errorType" => type, "stackTrace" => e.backtrace || [] })
        client.error("/#{API}/runtime/invocation/#{request_id}/error", type, e.message, e.backtrace || [])
      end
    end
  end
end

LaminaRuntime.run
